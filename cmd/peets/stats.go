package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/proto"
)

// A running `peets up` keeps its page URL (and so its token) in
// <state-dir>/pages/<user>@<room>.url, readable by its user only, while
// it runs: peets stats finds the proxy there.

// pageURLFile is where a proxy of user in room keeps its page URL.
func pageURLFile(stateDir, user, room string) string {
	return filepath.Join(stateDir, "pages", user+"@"+room+".url")
}

// writePageURL writes url for peets stats; the returned func removes it.
func writePageURL(stateDir, user, room, url string) (func(), error) {
	p := pageURLFile(stateDir, user, room)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte(url+"\n"), 0o600); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(p) }, nil
}

// findPageURL is the URL of the running proxy the flags name: the only
// one in the state directory, or the one of user@room.
func findPageURL(stateDir, user, room string) (string, error) {
	if user != "" && room != "" {
		b, err := os.ReadFile(pageURLFile(stateDir, user, room))
		if err != nil {
			return "", fmt.Errorf("no proxy of %s in room %s runs with --state-dir %s (%v)", user, room, stateDir, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "pages", "*.url"))
	var match []string
	for _, f := range files {
		u, r, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".url"), "@")
		if (user == "" || u == user) && (room == "" || r == room) {
			match = append(match, f)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no running peets up found in %s: give --url (the page URL it printed), or --state-dir", stateDir)
	case 1:
		b, err := os.ReadFile(match[0])
		return strings.TrimSpace(string(b)), err
	}
	names := make([]string, len(match))
	for i, f := range match {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".url")
	}
	return "", fmt.Errorf("several proxies run (%s): say which with --user and --room", strings.Join(names, ", "))
}

// proxyStats is the part of /api/stats that peets stats shows.
type proxyStats struct {
	Backend struct {
		Daemon struct {
			Participant string                `json:"participant"`
			Quality     []proto.StreamQuality `json:"quality"`
			Forwarder   struct {
				Up  bool   `json:"up"`
				URI string `json:"uri"`
			} `json:"forwarder"`
			Roster struct {
				Members int `json:"members"`
			} `json:"roster"`
		} `json:"daemon"`
	} `json:"backend"`
}

// statsClient reads a proxy's /api/stats.
type statsClient struct {
	api, token string
	http       *http.Client
}

func newStatsClient(pageURL string) (*statsClient, error) {
	u, err := neturl.Parse(pageURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want the page URL peets up printed (http://127.0.0.1:PORT/?token=...)", pageURL)
	}
	token := u.Query().Get("token")
	if token == "" {
		return nil, fmt.Errorf("--url %q carries no token", pageURL)
	}
	return &statsClient{api: "http://" + u.Host + "/api/stats", token: token, http: &http.Client{Timeout: 5 * time.Second}}, nil
}

func (c *statsClient) get(ctx context.Context) (proxyStats, error) {
	var s proxyStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.api, nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return s, fmt.Errorf("the proxy does not answer (has it stopped?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("%s: %s", c.api, resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&s)
	return s, err
}

// statsLine is one refresh of peets stats --json.
type statsLine struct {
	Time        time.Time             `json:"time"`
	Participant string                `json:"participant"`
	Members     int                   `json:"members"`
	Streams     []proto.StreamQuality `json:"streams"`
}

// writeStatsTable prints one refresh for a person: a line per remote
// stream, sorted by participant and stream.
func writeStatsTable(w io.Writer, s proxyStats, now time.Time) {
	d := s.Backend.Daemon
	up := "up"
	if !d.Forwarder.Up {
		up = "DOWN"
	}
	fmt.Fprintf(w, "%s  %s  members %d  forwarder %s %s\n", now.Format("15:04:05"), d.Participant, d.Roster.Members, d.Forwarder.URI, up)
	qs := slices.Clone(d.Quality)
	slices.SortFunc(qs, func(a, b proto.StreamQuality) int {
		return strings.Compare(a.Participant+"\x00"+a.Stream, b.Participant+"\x00"+b.Stream)
	})
	if len(qs) == 0 {
		fmt.Fprintln(w, "no remote streams")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "participant\tstream\tlayer\tkbit/s\tfps\tpkt/s\tloss %\trtt ms\tbuffer ms\tstalled s\t")
	for _, q := range qs {
		layer := "-"
		if q.Layer != "" {
			layer = fmt.Sprintf("%s (%d/%d)", q.Layer, q.LayerIndex+1, q.Layers)
			if q.Target != "" && q.Target != q.Layer {
				layer += " -> " + q.Target
			}
		}
		fps := "-"
		if q.Kind == proto.KindVideo {
			fps = fmt.Sprintf("%.1f", q.FrameRate)
		}
		stalled := "-"
		if q.StalledMs > 0 {
			stalled = fmt.Sprintf("%.1f", float64(q.StalledMs)/1000)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%s\t\n", q.Participant, q.Stream, layer,
			q.Bitrate/1000, fps, q.PacketRate, q.LossPct, q.SRTTMs, q.BufferDelayMs, stalled)
	}
	tw.Flush()
}

func newStatsCmd() *cobra.Command {
	var url, stateDir, user, room string
	var every time.Duration
	var count int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Watch a running proxy: per remote stream, its layer, bitrate, fps, loss, RTT and buffer delay",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every <= 0 {
				return fmt.Errorf("--interval %v: want > 0", every)
			}
			if count < 0 {
				return fmt.Errorf("--count %d: want >= 0", count)
			}
			if url == "" {
				if stateDir == "" {
					stateDir = (&ndnFlags{}).dir()
				}
				var err error
				if url, err = findPageURL(stateDir, user, room); err != nil {
					return err
				}
			}
			c, err := newStatsClient(url)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			out := cmd.OutOrStdout()
			clear := false
			if f, ok := out.(*os.File); ok && !asJSON {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					clear = true
				}
			}
			t := time.NewTicker(every)
			defer t.Stop()
			for i := 0; count == 0 || i < count; i++ {
				if i > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-t.C:
					}
				}
				s, err := c.get(ctx)
				if errors.Is(err, context.Canceled) {
					return nil
				}
				if err != nil {
					return err
				}
				now := time.Now()
				if asJSON {
					d := s.Backend.Daemon
					b, _ := json.Marshal(statsLine{Time: now, Participant: d.Participant, Members: d.Roster.Members, Streams: d.Quality})
					fmt.Fprintf(out, "%s\n", b)
					continue
				}
				if clear {
					fmt.Fprint(out, "\033[H\033[2J")
				} else if i > 0 {
					fmt.Fprintln(out)
				}
				writeStatsTable(out, s, now)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "the page URL peets up printed (default: the running proxy found in --state-dir)")
	fl.StringVar(&stateDir, "state-dir", "", "the proxy's --state-dir (default "+(&ndnFlags{}).dir()+")")
	fl.StringVar(&user, "user", "", "with several proxies in the state directory: the one of this user")
	fl.StringVar(&room, "room", "", "with several proxies in the state directory: the one in this room")
	fl.DurationVar(&every, "interval", time.Second, "refresh interval")
	fl.IntVar(&count, "count", 0, "refreshes before exiting (0: until interrupted)")
	fl.BoolVar(&asJSON, "json", false, "one JSON object per refresh (the names of docs/metrics.md)")
	return cmd
}
