package main

import (
	"math"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/media/source"
)

// newBotCmd is a synthetic participant: it publishes a real VP8 + Opus
// stream read from media files at their real pace, looping, and heartbeats
// in the roster like any participant.
func newBotCmd() *cobra.Command {
	var f daemonFlags
	var video, audio string
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
			src, err := source.OpenDefault(source.Options{VideoPath: video, AudioPath: audio, Loop: true, Speed: speed, Logger: log})
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
			return d.Run(ctx)
		},
	}
	f.add(cmd, "bot")
	fl := cmd.Flags()
	fl.StringVar(&video, "video", "", "VP8 IVF file (default: the embedded test pattern)")
	fl.StringVar(&audio, "audio", "", "Opus Ogg file (default: the embedded tone)")
	fl.Float64Var(&speed, "speed", 1, "pace: 1 = real time")
	fl.BoolVar(&fetch, "fetch", false, "also fetch the other participants' streams")
	return cmd
}
