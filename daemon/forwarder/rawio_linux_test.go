package forwarder

import (
	"bytes"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	enc "github.com/named-data/ndnd/std/encoding"
)

// TestRawIOLargeWrites sends wires far larger than the socket buffer, so
// writev returns short writes and EAGAIN, and checks the reader gets every
// byte in order.
func TestRawIOLargeWrites(t *testing.T) {
	wc, rc, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	defer rc.Close()
	_ = wc.SetWriteBuffer(4096)

	w, r := newRawIO(wc), newRawIO(rc)
	if w == nil || r == nil {
		t.Fatal("no raw I/O on a unix socket")
	}
	var want bytes.Buffer
	wires := make([]enc.Wire, 0, 20)
	for i := 0; i < 20; i++ {
		var wire enc.Wire
		for j := 0; j < 1+i%(maxIovecs+5); j++ { // beyond one writev's iovecs too
			b := bytes.Repeat([]byte{byte(i), byte(j)}, 1+(i*j*977)%9000)
			wire = append(wire, b)
			want.Write(b)
		}
		wire = append(wire, nil) // empty parts are skipped
		wires = append(wires, wire)
	}
	done := make(chan error, 1)
	go func() {
		for _, wire := range wires {
			orig := append(enc.Wire(nil), wire...)
			if err := w.writev(wire); err != nil {
				done <- err
				return
			}
			for k := range wire { // the caller's wire is left as it was
				if len(wire[k]) != len(orig[k]) {
					done <- io.ErrShortWrite
					return
				}
			}
		}
		done <- wc.Close()
	}()
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %d bytes, wrote %d, or in another order", len(got), want.Len())
	}
}

// TestRawIODeadline: a write into a full socket that nobody reads fails at
// the connection's deadline instead of blocking.
func TestRawIODeadline(t *testing.T) {
	a, b, err := socketPair()
	if err != nil {
		t.Skip(err)
	}
	defer a.Close()
	defer b.Close()
	w := newRawIO(a)
	_ = a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 8<<20)
	start := time.Now()
	if err := w.writev(enc.Wire{big}); err == nil {
		t.Fatal("8 MiB into an unread socket succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("write returned after %v", d)
	}
}

func TestConsume(t *testing.T) {
	w := enc.Wire{[]byte("ab"), []byte("cde"), []byte("f")}
	for n, want := range []string{"abcdef", "bcdef", "cdef", "def", "ef", "f", ""} {
		if got := string(consume(w, n).Join()); got != want {
			t.Errorf("consume(%d) = %q, want %q", n, got, want)
		}
	}
	if string(w.Join()) != "abcdef" {
		t.Fatal("consume changed its input")
	}
}

// BenchmarkWakeUp measures what waking a sleeping thread costs on this
// machine, the floor under a proxy's CPU per packet burst at real pace:
// two OS threads bounce one byte over a unix socketpair with blocking
// reads, so every hop wakes a thread that slept in the kernel. ns/op is a
// round trip (two wake-ups). "same-cpu" pins both threads to one CPU.
func BenchmarkWakeUp(b *testing.B) {
	run := func(b *testing.B, cpu int) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer syscall.Close(fds[0])
		defer syscall.Close(fds[1])
		// Each side runs on a goroutine locked to its thread and never
		// unlocked, so the thread (and its CPU affinity) ends with it.
		pin := func() {
			runtime.LockOSThread()
			if cpu >= 0 {
				var mask [16]uint64 // a cpu_set_t of 1024 CPUs
				mask[cpu/64] |= 1 << (cpu % 64)
				_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0,
					unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
			}
		}
		bounce := func(fd int, first bool, n int, errc chan<- error) {
			pin()
			buf := []byte{0}
			for i := 0; i < n; i++ {
				if first {
					if _, err := syscall.Write(fd, buf); err != nil {
						errc <- err
						return
					}
				}
				if _, err := syscall.Read(fd, buf); err != nil {
					errc <- err
					return
				}
				if !first {
					if _, err := syscall.Write(fd, buf); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}
		errc := make(chan error, 2)
		b.ResetTimer()
		go bounce(fds[1], false, b.N, errc)
		go bounce(fds[0], true, b.N, errc)
		for range 2 {
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("any-cpu", func(b *testing.B) { run(b, -1) })
	b.Run("same-cpu", func(b *testing.B) { run(b, 0) })
}
