package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/media/source"
)

// newBotCmd is a synthetic participant: it publishes a real VP8 + Opus
// stream read from media files at their real pace, looping, and heartbeats
// in the roster like any participant.
func newBotCmd() *cobra.Command {
	var f daemonFlags
	var video, audio, layers, talk string
	var speed float64
	var fetch bool
	cmd := &cobra.Command{
		Use:   "bot",
		Short: "A synthetic participant publishing a real VP8 + Opus stream from files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := f.logger()
			cfg, err := f.build(cmd)
			if err != nil {
				return err
			}
			if speed <= 0 {
				speed = math.Inf(1)
			}
			so := source.Options{VideoPath: video, AudioPath: audio, Loop: true, Speed: speed, Logger: log}
			if so.Layers, err = parseLayers(layers); err != nil {
				return err
			}
			if so.Talk, err = parseTalk(talk); err != nil {
				return err
			}
			src, err := source.OpenDefault(so)
			if err != nil {
				return err
			}
			opts := daemon.Options{Config: cfg, Logger: log, Source: src}
			if !fetch {
				opts.Fetch = noFetch
			}
			d, err := daemon.New(ctx, opts)
			if err != nil {
				return err
			}
			cmd.Printf("bot %s in room %s as %s\n", cfg.User, cfg.Room, d.Participant())
			if err := f.serveMetrics(ctx, cmd, d.Collector(), log); err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
	f.add(cmd, "bot")
	fl := cmd.Flags()
	fl.StringVar(&video, "video", "", "VP8 IVF file (default: the embedded test pattern)")
	fl.StringVar(&audio, "audio", "", "Opus Ogg file (default: the embedded tone)")
	fl.Float64Var(&speed, "speed", 1, "pace: 1 = real time")
	fl.BoolVar(&fetch, "fetch", false, "also fetch the other participants' streams")
	fl.StringVar(&layers, "layers", "", "publish the camera as simulcast layers from VP8 IVF files, lowest first: rid=file,... (e.g. l=l.ivf,m=m.ivf,h=h.ivf), or \"embedded\" (a 720p test pattern as three layers)")
	fl.StringVar(&talk, "talk", "", "mark the bot's audio as speech on a schedule, PERIOD/ON[+OFFSET] (e.g. 60s/10s+20s: talks from 20 s to 30 s of every minute); silence otherwise")
	return cmd
}

// parseLayers reads --layers: rid=file,... lowest first, or "embedded".
func parseLayers(s string) ([]source.Layer, error) {
	if s == "" {
		return nil, nil
	}
	if s == "embedded" {
		return source.EmbeddedLayers(), nil
	}
	var out []source.Layer
	for _, part := range strings.Split(s, ",") {
		rid, path, ok := strings.Cut(part, "=")
		if !ok || rid == "" || path == "" {
			return nil, fmt.Errorf("--layers %q: want rid=file,... (e.g. l=l.ivf,m=m.ivf,h=h.ivf)", s)
		}
		out = append(out, source.Layer{RID: rid, Path: path})
	}
	return out, nil
}

// parseTalk reads --talk: PERIOD/ON[+OFFSET].
func parseTalk(s string) (*source.Talk, error) {
	if s == "" {
		return nil, nil
	}
	bad := fmt.Errorf("--talk %q: want PERIOD/ON[+OFFSET] (e.g. 60s/10s+20s)", s)
	period, rest, ok := strings.Cut(s, "/")
	if !ok {
		return nil, bad
	}
	on, offset, _ := strings.Cut(rest, "+")
	var k source.Talk
	var err error
	if k.Period, err = time.ParseDuration(period); err != nil {
		return nil, bad
	}
	if k.On, err = time.ParseDuration(on); err != nil {
		return nil, bad
	}
	if offset != "" {
		if k.Offset, err = time.ParseDuration(offset); err != nil {
			return nil, bad
		}
	}
	if k.Period <= 0 || k.On < 0 || k.On > k.Period {
		return nil, bad
	}
	return &k, nil
}
