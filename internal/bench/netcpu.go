package bench

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peets/peets/internal/netns"
)

// nsCPU is the CPU time of the processes now in namespace ns (a browser
// and its helpers, a proxy, a forwarder), this process excluded.
func nsCPU(ns *netns.NS) time.Duration {
	var sum time.Duration
	for _, pid := range ns.Pids() {
		if pid == os.Getpid() {
			continue
		}
		if t, ok := procCPU(pid); ok {
			sum += t
		}
	}
	return sum
}

// machineCPU reads the machine's busy and total CPU time (all cores) from
// /proc/stat; ok is false where there is none.
func machineCPU() (busy, total time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, false
	}
	var sum, idle uint64
	for i, x := range f[1:] {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i >= 8 { // guest time is counted in user already
			break
		}
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return time.Duration(sum-idle) * clockTick, time.Duration(sum) * clockTick, true
}

// cpuSnapshot is the hosts' and the machine's CPU time at one moment.
type cpuSnapshot struct {
	hosts       map[string]time.Duration
	busy, total time.Duration
}

func readCPU(t *topology) cpuSnapshot {
	s := cpuSnapshot{hosts: map[string]time.Duration{}}
	for _, h := range t.hosts {
		s.hosts[h.name] = nsCPU(h.ns)
	}
	s.busy, s.total, _ = machineCPU()
	return s
}
