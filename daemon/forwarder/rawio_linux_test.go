package forwarder

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// TestRawIOLargeWrites sends wires far larger than the socket buffer, so
// writev returns short writes and EAGAIN, and checks the reader gets every
// byte in order.
func TestRawIOLargeWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	wc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	rc := <-acc
	defer rc.Close()
	_ = wc.(*net.UnixConn).SetWriteBuffer(4096)

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
