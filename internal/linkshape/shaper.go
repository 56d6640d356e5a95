package linkshape

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/peets/peets/internal/netns"
)

// Defaults of a Shaper's token bucket: a bucket of 4 KB (a few packets of
// burst) or of 10 ms at the rate, the larger (a bucket smaller than a
// timer tick's worth of bytes would hold the rate below the limit), and a
// queue of 100 ms at the rate, as a modest home router has.
const (
	DefaultBurst   = "" // see AutoBurst
	DefaultLatency = "100ms"
)

// AutoBurst is the default bucket for rate (bit/s), in tc's syntax.
func AutoBurst(rate int64) string {
	return fmt.Sprintf("%db", max(4000, rate/8/100))
}

// Shaper limits the egress of one interface (dev, in namespace ns) with a
// root tbf qdisc, or takes it away for no limit. Its qdisc counters add up
// over every qdisc it set. Safe for concurrent use.
type Shaper struct {
	NS      *netns.NS
	Dev     string
	Burst   string // tc's burst, default AutoBurst(rate)
	Latency string // tc's latency (the queue, in time at the rate), default DefaultLatency

	mu    sync.Mutex
	rate  int64 // in force, 0: none
	set   bool
	qdisc QdiscStats // sums of the qdiscs replaced so far
	last  QdiscStats // the current qdisc's last reading
}

// QdiscStats are a qdisc's counters.
type QdiscStats struct {
	Bytes      uint64 `json:"bytes"`   // sent
	Packets    uint64 `json:"packets"` // sent
	Drops      uint64 `json:"drops"`
	Overlimits uint64 `json:"overlimits"`
}

func (q QdiscStats) add(o QdiscStats) QdiscStats {
	return QdiscStats{q.Bytes + o.Bytes, q.Packets + o.Packets, q.Drops + o.Drops, q.Overlimits + o.Overlimits}
}

// Set puts rate (bit/s, 0: no limit) in force.
func (s *Shaper) Set(rate int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set && rate == s.rate {
		return nil
	}
	var err error
	if rate == 0 {
		if s.set && s.rate != 0 {
			err = s.lift()
		}
	} else {
		s.foldLocked()
		burst, lat := s.Burst, s.Latency
		if burst == "" {
			burst = AutoBurst(rate)
		}
		if lat == "" {
			lat = DefaultLatency
		}
		err = s.NS.TC("qdisc", "replace", "dev", s.Dev, "root", "tbf", "rate", fmt.Sprintf("%dbit", rate), "burst", burst, "latency", lat)
	}
	if err != nil {
		return err
	}
	s.rate, s.set = rate, true
	return nil
}

// liftRate and liftDrain: a limit is lifted by raising the token bucket's
// rate first, so what it holds drains, and removing it after a moment.
// Deleting a qdisc drops its queue (up to its latency's worth of
// packets), a burst of loss that a link getting faster does not cause and
// that had receivers step down at the very moment a limit was lifted.
const (
	liftRate  = "1gbit"
	liftDrain = 100 * time.Millisecond
)

// lift removes the limit in force (s.mu held).
func (s *Shaper) lift() error {
	lat := s.Latency
	if lat == "" {
		lat = DefaultLatency
	}
	if err := s.NS.TC("qdisc", "change", "dev", s.Dev, "root", "tbf", "rate", liftRate, "burst", AutoBurst(1e9), "latency", lat); err != nil {
		return err
	}
	time.Sleep(liftDrain)
	s.foldLocked() // the tbf's counters, up to its removal
	return s.NS.TC("qdisc", "del", "dev", s.Dev, "root")
}

// Rate is the rate in force (0: none).
func (s *Shaper) Rate() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate
}

// Qdisc returns the qdisc counters summed over every qdisc this Shaper set
// (a tbf counts what it sent and dropped; no qdisc counts nothing).
func (s *Shaper) Qdisc() QdiscStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.qdisc.add(s.last)
}

// foldLocked adds the counters of the qdisc in force to the sum, before it
// is replaced or removed.
func (s *Shaper) foldLocked() {
	s.readLocked()
	s.qdisc = s.qdisc.add(s.last)
	s.last = QdiscStats{}
}

// readLocked reads the current root qdisc's counters into s.last when it
// is one this Shaper set (a tbf).
func (s *Shaper) readLocked() {
	if !s.set || s.rate == 0 {
		return
	}
	out, err := s.NS.Output("tc", "-j", "-s", "qdisc", "show", "dev", s.Dev)
	if err != nil {
		return
	}
	if q, ok := parseQdisc(out); ok {
		s.last = q
	}
}

// parseQdisc reads the root tbf's counters from `tc -j -s qdisc show`.
func parseQdisc(out []byte) (QdiscStats, bool) {
	var qs []struct {
		Kind string `json:"kind"`
		Root bool   `json:"root"`
		QdiscStats
	}
	if json.Unmarshal(out, &qs) != nil {
		return QdiscStats{}, false
	}
	for _, q := range qs {
		if q.Root && q.Kind == "tbf" {
			return q.QdiscStats, true
		}
	}
	return QdiscStats{}, false
}

// DevStats are an interface's counters.
type DevStats struct {
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxDropped uint64 `json:"tx_dropped"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
}

// ReadDev reads interface dev's counters in namespace ns.
func ReadDev(ns *netns.NS, dev string) (DevStats, error) {
	out, err := ns.Output("ip", "-j", "-s", "link", "show", "dev", dev)
	if err != nil {
		return DevStats{}, err
	}
	return parseDev(out)
}

func parseDev(out []byte) (DevStats, error) {
	var ls []struct {
		Stats struct {
			Rx struct {
				Bytes, Packets uint64
			} `json:"rx"`
			Tx struct {
				Bytes, Packets, Dropped uint64
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &ls); err != nil || len(ls) != 1 {
		return DevStats{}, fmt.Errorf("linkshape: ip -j -s link: %v: %.200s", err, out)
	}
	s := ls[0].Stats
	return DevStats{TxBytes: s.Tx.Bytes, TxPackets: s.Tx.Packets, TxDropped: s.Tx.Dropped, RxBytes: s.Rx.Bytes, RxPackets: s.Rx.Packets}, nil
}
