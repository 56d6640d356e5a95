// Package bench runs the benchmarks of `peets bench`: several real proxy
// processes on one forwarder, measured from the outside.
package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/pion/rtp"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/media/source"
	"github.com/peets/peets/proto"
)

// Record is one RTP packet seen by a worker.
type Record struct {
	Stream string `json:"s"`
	Seq    uint64 `json:"q"`
	TimeNs int64  `json:"t"` // unix ns: in at the publisher, out at a subscriber
	Size   int    `json:"n"`
	Hash   uint64 `json:"h"`           // FNV-64a of the RTP packet
	Key    bool   `json:"k,omitempty"` // a video keyframe's first packet
}

// WorkerReport is what a worker writes when it stops.
type WorkerReport struct {
	Mode       string       `json:"mode"`
	User       string       `json:"user"`
	StopNs     int64        `json:"stop_ns"`
	Stats      daemon.Stats `json:"stats"`
	Streams    int          `json:"streams"`
	OutOfOrder int          `json:"out_of_order"`
	// Records last: writeReport streams them in place of the null that
	// json.Marshal writes for them.
	Records []Record `json:"records"`
}

// WorkerConfig configures RunWorker.
type WorkerConfig struct {
	Mode      string // "pub" or "sub"
	User      string
	Room      string
	Prefix    string // user prefix; "" = /peets/user/<user>
	Forwarder string
	StateDir  string
	TrustDir  string // rooms\' anchors (the benchmark shares one among its workers)
	Out       string // report file
	Logger    *slog.Logger
	Ready     io.Writer // "ready" is written here once in the room
	// Progress, if > 0, writes "progress n=<packets>" to Ready at this
	// interval.
	Progress time.Duration
	// Speed is the source's pace (publisher): 1 (or 0) is real time.
	Speed float64
	// Links are udp:// or tcp:// links to other hosts' forwarders (--link).
	Links []string
	// VideoPath and AudioPath replace the embedded media (publisher).
	VideoPath, AudioPath string
	// CPUProfile, if set, is a file for a CPU profile of the whole run
	// (up to the end of Run, before the report is written).
	CPUProfile string
	// Invitation to import before joining (daemon.Config.Invitation), and
	// the SafeBag of its key (daemon.Config.SafeBag).
	Invitation, SafeBag string
}

// maxRecords bounds what a worker keeps (10 minutes of a bot stream).
const maxRecords = 200000

// RunWorker runs one proxy of the benchmark until ctx is done and writes
// its report.
func RunWorker(ctx context.Context, c WorkerConfig) error {
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Speed < 0 || c.Speed > 1000 {
		return fmt.Errorf("bench worker: speed %v out of (0, 1000]", c.Speed)
	}
	stopProfile := func() {}
	if c.CPUProfile != "" {
		pf, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		// 1 kHz instead of 100 Hz: a proxy at real pace uses a few % of a
		// core, too few samples otherwise. (The runtime then warns that
		// the rate was set already; the profile keeps this one.)
		runtime.SetCPUProfileRate(1000)
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return err
		}
		var once sync.Once
		stopProfile = func() {
			once.Do(func() {
				pprof.StopCPUProfile()
				pf.Close()
			})
		}
		defer stopProfile()
	}
	recs, err := newRecordLog(c.Out+".records", maxRecords)
	if err != nil {
		return err
	}
	defer recs.close()
	var mu sync.Mutex
	outOfOrder := 0
	type streamKey struct{ from, stream string }
	last := map[streamKey]uint64{}
	count := 0
	// from is the publisher (a subscriber hears several): a stream's
	// order is per publisher.
	add := func(from, stream string, seq uint64, pkt []byte, t time.Time) {
		h := fnv.New64a()
		h.Write(pkt)
		key := false
		if stream == source.StreamVideo {
			var p rtp.Packet
			if p.Unmarshal(pkt) == nil {
				key = codec.IsKeyframe(codec.MimeTypeVP8, p.Payload)
			}
		}
		mu.Lock()
		count++
		k := streamKey{from, stream}
		if seq <= last[k] {
			outOfOrder++
		}
		last[k] = seq
		recs.add(Record{Stream: stream, Seq: seq, TimeNs: t.UnixNano(), Size: len(pkt), Hash: h.Sum64(), Key: key})
		mu.Unlock()
	}
	cfg := daemon.Config{
		User: c.User, Room: c.Room, Prefix: c.Prefix, Forwarder: c.Forwarder, StateDir: c.StateDir, TrustDir: c.TrustDir, Links: c.Links, Invitation: c.Invitation, SafeBag: c.SafeBag,
	}
	opts := daemon.Options{Config: cfg, Logger: c.Logger, Ephemeral: true}
	switch c.Mode {
	case "pub":
		opts.Config.Role = proto.RoleBroadcaster
		src, err := source.OpenDefault(source.Options{VideoPath: c.VideoPath, AudioPath: c.AudioPath, Loop: true, Speed: c.Speed, Logger: c.Logger})
		if err != nil {
			return err
		}
		opts.Source = src
		opts.OnPublish = func(stream string, seq uint64, pkt []byte, in time.Time) { add("", stream, seq, pkt, in) }
	case "sub":
		opts.Config.Role = proto.RoleViewer
		var names nameCache
		opts.OnRemote = func(from enc.Name, stream string, seq uint64, pkt []byte) {
			add(names.of(from), stream, seq, pkt, time.Now())
		}
	default:
		return fmt.Errorf("bench worker: mode %q (want pub or sub)", c.Mode)
	}
	d, err := daemon.New(ctx, opts)
	if err != nil {
		return err
	}
	if c.Ready != nil {
		fmt.Fprintln(c.Ready, "ready")
		if c.Progress > 0 {
			go func() {
				t := time.NewTicker(c.Progress)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						mu.Lock()
						n := count
						mu.Unlock()
						fmt.Fprintf(c.Ready, "progress n=%d\n", n)
					}
				}
			}()
		}
	}
	runErr := d.Run(ctx)
	stop := time.Now()
	stopProfile()
	mu.Lock()
	defer mu.Unlock() // (a late packet callback waits for the report)
	rep := WorkerReport{Mode: c.Mode, User: c.User, StopNs: stop.UnixNano(), Stats: d.FinalStats(), Streams: len(last), OutOfOrder: outOfOrder}
	if err := writeReport(c.Out, rep, recs); err != nil {
		return err
	}
	return runErr
}

// nameCache keeps the strings of the few names a subscriber hears from,
// so a packet costs a comparison rather than a name's URI. Fetchers call it
// from their goroutines.
type nameCache struct {
	mu    sync.Mutex
	names []enc.Name
	strs  []string
}

func (c *nameCache) of(n enc.Name) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.names {
		if m.Equal(n) {
			return c.strs[i]
		}
	}
	s := n.String()
	if len(c.names) < 64 {
		c.names, c.strs = append(c.names, n.Clone()), append(c.strs, s)
	}
	return s
}
