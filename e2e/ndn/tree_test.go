//go:build e2e

package ndn

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/proto"
)

// newTestbed builds the testbed of `peets bench tree` for a test of its
// own (its hosts, forwarders and static routes for room's group: each
// site's prefix /tb/h<i>, under which its participants' user prefixes
// are, to the next hop towards it) and takes it down at the end.
func newTestbed(t *testing.T, p *procs, parents []int, kinds []string, room string) *bench.Testbed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	var nfd string
	if slices.Contains(kinds, bench.FwNFD) {
		nfd = e2etest.NFDTools(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tb, err := bench.NewTestbed(ctx, bench.TestbedConfig{Parents: parents, Forwarders: kinds, Group: proto.DefaultGroupPrefix(room),
		Bin: p.bin, Ndnd: e2etest.Ndnd(t), NFD: nfd, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.Close)
	return tb
}

// TestTree: the testbed benchmark (peets bench tree), shortened, on the
// five hosts above (NFD, ndnd fw and peets forwarders, static routes) and
// again with ndnd's routing daemon on every host instead of static
// routes: a publisher with three simulcast layers on h3, bots on every
// host and Chromium pages on the farthest hosts. Every roster lists
// everyone; the publisher sends each pulled layer once (upload factor
// <= 1.05); every link away from the publisher carries each layer pulled
// behind it about once (0.9 to 1.05 copies, the link's own count of the
// layer's Data against the publisher's) and no layer more than 1.05 times;
// the bots lose (almost) nothing and the pages decode.
func TestTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	cases := []struct {
		name  string
		c     bench.TreeConfig
		pages int
	}{
		{"static", bench.TreeConfig{Bots: 10, Pages: 1}, 1},
		{"dv", bench.TreeConfig{Routing: "dv", Bots: 5, Pages: 1}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Bin, c.Ndnd, c.NFD = e2etest.Peets(t), e2etest.Ndnd(t), e2etest.NFDTools(t)
			c.Warmup, c.Duration = 6*time.Second, 10*time.Second
			if _, err := exec.LookPath(cdp.ChromiumPath()); err != nil {
				t.Skipf("no Chromium (%s): PEETS_CHROMIUM", cdp.ChromiumPath())
			}
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			r, err := bench.Tree(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(r)
			t.Logf("%s", b)
			if r.RostersComplete != r.Participants {
				t.Errorf("%d of %d rosters list everyone", r.RostersComplete, r.Participants)
			}
			if r.UploadFactor > 1.05 {
				t.Errorf("publisher upload factor %.3f (by stream %v)", r.UploadFactor, r.UploadByStream)
			}
			if r.MaxLinkCopies > 1.05 {
				t.Errorf("a link carried a layer %.3f times", r.MaxLinkCopies)
			}
			for _, l := range r.Links {
				if !l.Away || len(l.Below) == 0 {
					continue
				}
				// Bots behind every link pull the audio and, on these free
				// links, the top layer.
				for _, id := range []string{"audio", "cam.h"} {
					if cp := l.CopiesByStream[id]; cp < 0.9 {
						t.Errorf("%s, with %v behind it, carried %.3f copies of %s", l.Link, l.Below, cp, id)
					}
				}
			}
			if r.BotDelivered < 1000 || r.BotLossPct > 1 {
				t.Errorf("bots: %d packets delivered, %.2f %% lost", r.BotDelivered, r.BotLossPct)
			}
			if len(r.Pages) != tc.pages {
				t.Fatalf("%d pages measured", len(r.Pages))
			}
			for _, p := range r.Pages {
				if p.FPS < 10 || p.Width == 0 {
					t.Errorf("%s on %s decoded %.1f fps at %dx%d", p.Page, p.Host, p.FPS, p.Width, p.Height)
				}
			}
		})
	}
}

// memberRoster is the roster a worker's log says it has: the members it
// logged joining, less those it logged leaving since, sorted.
func memberRoster(pr *proc.Proc) []string {
	in := map[string]bool{}
	for _, l := range pr.Lines() {
		if m := joinedRe.FindStringSubmatch(l); m != nil {
			in[m[2]] = true
		} else if m := leftRe.FindStringSubmatch(l); m != nil {
			delete(in, m[2])
		}
	}
	return keys(in)
}

// missing is what want has and got lacks.
func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// others is users without u.
func others(users []string, u string) []string {
	var out []string
	for _, x := range users {
		if x != u {
			out = append(out, x)
		}
	}
	return out
}
