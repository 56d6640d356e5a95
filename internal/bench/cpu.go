package bench

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peets/peets/internal/proc"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat CPU times
// (fixed at 100 on the architectures Go supports).
const clockTick = 10 * time.Millisecond

// procCPU returns the user+system CPU time of a running process, from
// /proc/<pid>/stat (all its threads, live or exited). ok is false where
// there is no such file.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: fields are counted after
	// its closing parenthesis. utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * clockTick, true
}

// groupCPU is the CPU time of the live processes of process group pgid (a
// browser and its helpers: browserproc starts each in a group of its own).
func groupCPU(pgid int) time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) { // pgrp is field 5
			continue
		}
		if t, ok := procCPU(pid); ok {
			sum += t
		}
	}
	return sum
}

// procCPUs samples procCPU for each process; ok only if all were read.
func procCPUs(ps []*proc.Proc) ([]time.Duration, bool) {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		t, ok := procCPU(p.Pid())
		if !ok {
			return nil, false
		}
		out[i] = t
	}
	return out, true
}
