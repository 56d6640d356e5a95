package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/peets/peets/internal/bench"
)

// newBenchCmd groups the benchmarks. Each prints one JSON object per run.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks: one JSON object per run",
	}
	cmd.AddCommand(newBenchFanoutCmd(), newBenchRosterCmd(), newBenchCallCmd(), newBenchRoomCmd(), newBenchFwMemCmd(), newBenchNetCmd(), newBenchTreeCmd(), newBenchReportCmd(), withProcs(newBenchWorkerCmd(), proxyProcs))
	return cmd
}

// printResult prints a benchmark result: one compact JSON line with --json,
// else indented.
func printResult(w io.Writer, res any, compact bool) {
	var b []byte
	if compact {
		b, _ = json.Marshal(res)
	} else {
		b, _ = json.MarshalIndent(res, "", "  ")
	}
	fmt.Fprintln(w, string(b))
}

func newBenchFanoutCmd() *cobra.Command {
	var subs []int
	var dur time.Duration
	var speed float64
	var fw, logLevel, cpuProfile, video, audio string
	var asJSON, verbose, keep, noSweep bool
	var hops int
	var link bench.Impairment
	cmd := &cobra.Command{
		Use:   "fanout",
		Short: "One publisher (the bot's VP8 + Opus) and N subscriber proxies on one forwarder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(logLevel, "text")
			for _, n := range subs {
				c := bench.FanoutConfig{Subscribers: n, Duration: dur, Forwarder: fw, Logger: log, Speed: speed, CPUProfile: cpuProfile, VideoPath: video, AudioPath: audio, Hops: hops, Link: link, Keep: keep, NoSweep: noSweep}
				if verbose {
					c.Echo = os.Stderr
				}
				res, err := bench.Fanout(ctx, c)
				if err != nil {
					return fmt.Errorf("fanout N=%d: %w", n, err)
				}
				printResult(cmd.OutOrStdout(), res, asJSON)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&subs, "subscribers", []int{1}, "number of subscriber proxies; a list runs one benchmark per value (e.g. 1,2,4,8,16)")
	fl.DurationVar(&dur, "duration", 10*time.Second, "measured time per run")
	fl.StringVar(&fw, "forwarder", "", "forwarder URI (default: start a peets forwarder process for the run)")
	fl.BoolVar(&asJSON, "json", false, "one compact JSON object per line")
	fl.BoolVar(&verbose, "verbose", false, "copy the workers' output to stderr")
	fl.StringVar(&logLevel, "log-level", "warn", "log level")
	fl.Float64Var(&speed, "speed", 1, "source pace multiplier: 1 is a real call; e.g. 10 or 20 sends the same stream faster to measure the CPU cost per packet")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write each worker's CPU profile to <prefix>-<worker>.pprof")
	_ = fl.MarkHidden("cpuprofile")
	fl.StringVar(&video, "video", "", "publish this VP8 IVF file instead of the bot's embedded video (the audio stays the embedded one unless --audio)")
	fl.StringVar(&audio, "audio", "", "publish this Opus Ogg file instead of the bot's embedded audio")
	fl.IntVar(&hops, "hops", 1, "forwarders from publisher to subscribers: 1, or 2 (the publisher's forwarder linked over UDP on loopback to the subscribers', as two hosts)")
	impairmentFlags(fl, &link, "with --hops 2: ")
	fl.BoolVar(&keep, "keep", false, "keep each run's directory (workers' per-packet reports) and log its path")
	fl.BoolVar(&noSweep, "fw-no-sweep", false, "run the benchmark's forwarders without their CS sweeper (A/B runs of its cost)")
	_ = fl.MarkHidden("fw-no-sweep")
	return cmd
}

// impairmentFlags adds the flags of the impaired link between two
// forwarders (the user-space relay); when says where it applies.
func impairmentFlags(fl *pflag.FlagSet, m *bench.Impairment, when string) {
	fl.Float64Var(&m.Loss, "loss", 0, when+"fraction of the datagrams between the forwarders dropped, each way (e.g. 0.02)")
	fl.Float64Var(&m.Burst, "loss-burst", 1, "with --loss: mean number of datagrams in a run of drops (Gilbert model); 1 drops each one independently")
	fl.DurationVar(&m.Delay, "delay", 0, when+"one-way delay added between the forwarders (e.g. 20ms)")
	fl.DurationVar(&m.Jitter, "jitter", 0, when+"a uniform random extra delay in [0, jitter), each datagram (may reorder them)")
	fl.Uint64Var(&m.Seed, "seed", 1, "seed of the link's drops and jitter")
}

// newBenchWorkerCmd is one proxy of a benchmark (run by the benchmarks).
func newBenchWorkerCmd() *cobra.Command {
	var f ndnFlags
	var c bench.WorkerConfig
	cmd := &cobra.Command{
		Use:    "worker",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			c.Logger = f.logger()
			c.Forwarder = f.forwarder
			c.StateDir = f.dir()
			c.TrustDir = f.trust()
			c.Ready = cmd.OutOrStdout()
			return bench.RunWorker(ctx, c)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&c.Mode, "mode", "", "pub or sub")
	fl.StringVar(&c.User, "user", "", "user id")
	fl.StringVar(&c.Room, "room", "", "room id")
	fl.StringVar(&c.Prefix, "prefix", "", "user prefix (default /peets/user/<user>)")
	fl.StringVar(&c.Out, "out", "", "report file")
	fl.DurationVar(&c.Progress, "progress", 0, "print the packet count at this interval")
	fl.Float64Var(&c.Speed, "speed", 1, "source pace multiplier (pub)")
	fl.StringArrayVar(&c.Links, "link", nil, "udp://HOST:PORT or tcp://HOST:PORT of another host's forwarder to link to (repeatable)")
	fl.StringVar(&c.VideoPath, "video", "", "VP8 IVF file instead of the embedded video (pub)")
	fl.StringVar(&c.AudioPath, "audio", "", "Opus Ogg file instead of the embedded audio (pub)")
	fl.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	fl.StringVar(&c.Invitation, "invitation", "", "import this invitation and join with it")
	fl.StringVar(&c.SafeBag, "safebag", "", "the key of an invitation made for it (ndnsec export; password in $PEETS_SAFEBAG_PASSWORD)")
	return cmd
}

// benchCmd is a benchmark command that runs run once and prints its
// result: with the flags --json, --verbose (copy what runs to stderr:
// verboseWhat) and --log-level.
func benchCmd(use, short, verboseWhat string, run func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error)) *cobra.Command {
	var asJSON, verbose bool
	var logLevel string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			var echo io.Writer
			if verbose {
				echo = os.Stderr
			}
			res, err := run(ctx, newLogger(logLevel, "text"), echo)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res, asJSON)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&asJSON, "json", false, "one compact JSON object")
	fl.BoolVar(&verbose, "verbose", false, "copy "+verboseWhat+" to stderr")
	fl.StringVar(&logLevel, "log-level", "warn", "log level")
	return cmd
}

// newBenchCallCmd measures a real call in headless Chromium.
func newBenchCallCmd() *cobra.Command {
	var c bench.CallConfig
	cmd := benchCmd("call", "A real call in headless Chromium: first-frame time of a joiner, CPU per proxy", "the proxies' output",
		func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error) {
			c.Logger, c.Echo = log, echo
			return bench.Call(ctx, c)
		})
	fl := cmd.Flags()
	fl.IntVar(&c.Pages, "pages", 3, "participants (a page and a proxy each)")
	fl.DurationVar(&c.Duration, "duration", 10*time.Second, "steady call over which CPU is measured")
	fl.IntVar(&c.Joins, "joins", 5, "late joins measured for the first-frame time")
	return cmd
}

// newBenchRoomCmd measures a large room: bots with simulcast cameras
// talking in turn, a few Chromium pages receiving.
func newBenchRoomCmd() *cobra.Command {
	var c bench.RoomConfig
	cmd := benchCmd("room", "A large room: bots with simulcast cameras talking in turn, Chromium pages in the speaker view: download, decoded streams, fps, speaker switch time", "the bots' and proxies' output",
		func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error) {
			c.Logger, c.Echo = log, echo
			return bench.Room(ctx, c)
		})
	fl := cmd.Flags()
	fl.IntVar(&c.Bots, "bots", 10, "bots, each a 720p simulcast camera (the embedded pattern) and a voice talking in turn")
	fl.IntVar(&c.Pages, "pages", 2, "receiving participants, a Chromium page and a proxy each")
	fl.DurationVar(&c.Duration, "duration", time.Minute, "measured window")
	fl.DurationVar(&c.Slot, "slot", 6*time.Second, "each bot talks for all but a second of a slot, in turn")
	fl.StringVar(&c.ProxyLogLevel, "proxy-log-level", "warn", "the receiving proxies' log level (their output with --verbose)")
	fl.BoolVar(&c.TopOnly, "top-only", false, "the bots publish only their top layer, one plain 720p stream: every video shown decodes at full size (the baseline of the pages' CPU)")
	return cmd
}

// newBenchFwMemCmd measures the forwarder's memory over many unique names.
func newBenchFwMemCmd() *cobra.Command {
	var c bench.FwMemConfig
	cmd := benchCmd("fwmem", "Unique names through a peets forwarder process (a call's worth, and a stranger's unsolicited Data): its RSS over time",
		"the forwarder's output", func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error) {
			c.Logger, c.Echo = log, echo
			return bench.FwMem(ctx, c)
		})
	fl := cmd.Flags()
	fl.IntVar(&c.Names, "names", 756000, "unique names through the forwarder (756000: an hour of a two-person call, 2 x 105 packets a second)")
	fl.IntVar(&c.Rate, "rate", 2000, "Interests a second of the consumer (each answered by the producer: a new name)")
	fl.IntVar(&c.Window, "window", 64, "the consumer's Interests outstanding at most")
	fl.IntVar(&c.StrangerRate, "stranger-rate", 500, "unsolicited Data a second sent to the forwarder's UDP port from an unknown source (0: none)")
	fl.IntVar(&c.Content, "content", 1100, "content bytes of each Data")
	fl.DurationVar(&c.Sample, "sample", 5*time.Second, "RSS sampling interval")
	fl.IntVar(&c.Warmup, "warmup", 100000, "names before the RSS the growth is measured from")
	fl.BoolVar(&c.NoSweep, "no-sweep", false, "run the forwarder without its CS sweeper (to see the growth it prevents)")
	return cmd
}
