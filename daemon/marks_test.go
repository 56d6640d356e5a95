package daemon

import (
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
)

func TestMarkCounts(t *testing.T) {
	var m markCounts
	name := func(s string) enc.Name {
		n, err := enc.NameFromStr(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, s := range []string{
		"/peets/user/a/lab/media/cam.h/t=1796622786/seq=1",
		"/peets/user/a/lab/media/cam.h/t=1796622786/seq=2",
		"/peets/user/a/lab/media/cam.l/t=1796622786/seq=9",
		"/peets/user/a/lab/media/cam.h/meta", // not a media packet
		"/x",
	} {
		m.add(name(s))
	}
	h := name("/peets/user/a/lab/media/cam.h").String()
	if n := m.take(h); n != 2 {
		t.Errorf("cam.h: %d marks, want 2", n)
	}
	if n := m.take(h); n != 0 {
		t.Errorf("cam.h taken twice: %d", n)
	}
	if n := m.take(name("/peets/user/a/lab/media/cam.l").String()); n != 1 {
		t.Errorf("cam.l: %d marks", n)
	}
	// bounded: streams nobody takes do not pile up
	for i := range 3 * maxMarkedStreams {
		m.add(name("/peets/user/a/lab/media/s" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + "/t=1/seq=1"))
	}
	if len(m.n) > maxMarkedStreams {
		t.Errorf("%d streams counted", len(m.n))
	}
}
