package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/linkshape"
	"github.com/peets/peets/internal/y4m"
)

var errBadOnly = errors.New("--only: peets or direct")

// newBenchNetCmd measures a call over shaped links between hosts in
// network namespaces, through Peets and directly (the baseline).
func newBenchNetCmd() *cobra.Command {
	var c bench.NetConfig
	var uplink, only, camera string
	var downlinks []string
	cmd := benchCmd("net", "A call between hosts in network namespaces over shaped links, through Peets and directly (root)",
		"the proxies' and forwarders' output",
		func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error) {
			var err error
			if c.Uplink, err = linkshape.ParseSchedule(uplink); err != nil {
				return nil, err
			}
			for _, d := range downlinks {
				s, err := linkshape.ParseSchedule(d)
				if err != nil {
					return nil, err
				}
				c.Downlinks = append(c.Downlinks, s)
			}
			switch only {
			case "":
			case "peets":
				c.Peets = true
			case "direct":
				c.Direct = true
			default:
				return nil, errBadOnly
			}
			c.Clip = y4m.Default()
			if _, err := fmt.Sscanf(camera, "%dx%d@%d", &c.Clip.Width, &c.Clip.Height, &c.Clip.FPS); err != nil {
				return nil, fmt.Errorf("--camera %q: want WxH@FPS, e.g. 1280x720@20", camera)
			}
			if err := c.Clip.Validate(); err != nil {
				return nil, fmt.Errorf("--camera: %w", err)
			}
			c.Logger, c.Echo = log, echo
			return bench.Net(ctx, c)
		})
	cmd.Long = `Builds hosts in network namespaces joined by veth pairs, a peets forwarder, a peets up and a headless
Chromium page (a busy synthetic 720p camera) on each, shapes links with tbf on a schedule, and prints what
each receiving page shows (getStats: frame rate, freezes, loss, jitter buffer, bitrate, resolution, audio
concealment), what each link carried (and how much of it was duplicate Data or repeated Interests), and how
long the receiver took to adapt to each step; then the same with the pages connected directly by WebRTC over
the same links, and both side by side. Runs as root; everything it makes is taken down at the end.

A schedule is RATE[@TIME],...: "none", "1mbit", "none,1mbit@20s,none@40s" (times from the start of the
measured window; units bit, kbit, mbit, gbit).`
	fl := cmd.Flags()
	fl.IntVar(&c.Receivers, "receivers", 1, "1: two hosts A and B, a call both ways; 2: A publishes to viewers B and C, each host linked to a hub R")
	fl.DurationVar(&c.Duration, "duration", 60*time.Second, "measured window")
	fl.DurationVar(&c.Warmup, "warmup", 10*time.Second, "call before the window, once the receivers decode")
	fl.StringVar(&uplink, "uplink", "none", "schedule of the publisher's (A's) uplink")
	fl.StringArrayVar(&downlinks, "downlink", nil, "with --receivers 2: schedule of B's, then C's downlink (from the hub; repeatable)")
	fl.StringVar(&c.Burst, "tbf-burst", "", "tbf burst (tc syntax; default 4000 bytes or 10 ms at the rate, the larger)")
	fl.StringVar(&c.Latency, "tbf-latency", linkshape.DefaultLatency, "tbf queue, in time at the rate (tc syntax)")
	fl.StringVar(&camera, "camera", "1280x720@20", "the synthetic camera's size and frame rate (a busy clip made for the run)")
	fl.StringVar(&only, "only", "", "run one phase: peets or direct (default both)")
	impairmentFlags(fl, &c.Impair, "the Peets phase: ")
	fl.StringArrayVar(&c.ProxyArgs, "proxy-arg", nil, "an argument added to every proxy's `peets up` (repeatable; e.g. --proxy-arg=--layer-idle=10s)")
	fl.StringVar(&c.ProxyLogLevel, "proxy-log-level", "", "the proxies' log level (default: info with --keep, else warn)")
	fl.BoolVar(&c.Keep, "keep", false, "keep the run's directory (proxies' and forwarders' state and output, the camera clip): its path is in the JSON")
	return cmd
}
