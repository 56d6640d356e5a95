package linkshape

import (
	"errors"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, c := range []struct {
		in, out string
		steps   int
	}{
		{"", "none", 1},
		{"none", "none", 1},
		{"1mbit", "1mbit", 1},
		{"1.5mbit", "1500kbit", 1},
		{"500kbit", "500kbit", 1},
		{"none,1mbit@20s,none@40s", "none,1mbit@20s,none@40s", 3},
		{"2mbit@5s", "none,2mbit@5s", 2},
		{" 2Mbit , 500kbit@1m ", "2mbit,500kbit@1m0s", 2},
	} {
		s, err := ParseSchedule(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if s.String() != c.out || len(s) != c.steps {
			t.Errorf("%q: %q (%d steps), want %q (%d)", c.in, s, len(s), c.out, c.steps)
		}
		if back, err := ParseSchedule(s.String()); err != nil || back.String() != s.String() {
			t.Errorf("%q does not parse back: %v %v", s, back, err)
		}
	}
	for _, bad := range []string{"fast", "1mbps", "0kbit", "1kbit", "20gbit", "1mbit,2mbit", "1mbit@10s,2mbit@5s",
		"1mbit@-1s", "none,1mbit@x", "1mbit@2h", "-1mbit"} {
		if s, err := ParseSchedule(bad); !errors.Is(err, ErrBadSchedule) {
			t.Errorf("%q: %v %v, want ErrBadSchedule", bad, s, err)
		}
	}
}

func TestScheduleAtChanges(t *testing.T) {
	s, err := ParseSchedule("none,1mbit@20s,2mbit@30s,none@40s")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    time.Duration
		rate int64
	}{{0, 0}, {19 * time.Second, 0}, {20 * time.Second, 1e6}, {35 * time.Second, 2e6}, {40 * time.Second, 0}, {time.Hour, 0}, {-time.Second, 0}} {
		if got := s.At(c.t); got != c.rate {
			t.Errorf("At(%v) = %d, want %d", c.t, got, c.rate)
		}
	}
	ch := s.Changes()
	want := []Change{{20 * time.Second, 0, 1e6, true}, {30 * time.Second, 1e6, 2e6, false}, {40 * time.Second, 2e6, 0, false}}
	if len(ch) != len(want) {
		t.Fatalf("changes %+v", ch)
	}
	for i := range want {
		if ch[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, ch[i], want[i])
		}
	}
	if !s.Limited() {
		t.Error("not limited")
	}
	if none, _ := ParseSchedule("none"); none.Limited() || len(none.Changes()) != 0 {
		t.Error("none is limited")
	}
}

func TestParseCounters(t *testing.T) {
	q, ok := parseQdisc([]byte(`[{"kind":"tbf","handle":"8001:","root":true,"refcnt":3,"options":{"rate":125000,"burst":4096,"lat":100000},"bytes":1200,"packets":3,"drops":2,"overlimits":9,"requeues":0,"backlog":0,"qlen":0}]`))
	if !ok || q != (QdiscStats{1200, 3, 2, 9}) {
		t.Fatalf("qdisc %+v %v", q, ok)
	}
	if _, ok := parseQdisc([]byte(`[{"kind":"noqueue","root":true,"bytes":5}]`)); ok {
		t.Fatal("noqueue read as tbf")
	}
	d, err := parseDev([]byte(`[{"ifindex":3,"ifname":"nba","stats64":{"rx":{"bytes":90,"packets":1,"errors":0,"dropped":0},"tx":{"bytes":180,"packets":2,"errors":0,"dropped":1}}}]`))
	if err != nil || d != (DevStats{TxBytes: 180, TxPackets: 2, TxDropped: 1, RxBytes: 90, RxPackets: 1}) {
		t.Fatalf("dev %+v %v", d, err)
	}
	if _, err := parseDev([]byte(`garbage`)); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestAutoBurst(t *testing.T) {
	for rate, want := range map[int64]string{500_000: "4000b", 2_000_000: "4000b", 20_000_000: "25000b"} {
		if got := AutoBurst(rate); got != want {
			t.Errorf("AutoBurst(%d) = %s, want %s", rate, got, want)
		}
	}
}
