//go:build e2e

package ndn

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// ndntsEvent is one line of testdata/ndnts/svs.mjs.
type ndntsEvent struct {
	Ev   string `json:"ev"`
	Name string `json:"name"`
	Boot uint64 `json:"boot"`
	Lo   uint64 `json:"lo"`
	Hi   uint64 `json:"hi"`
	Seq  uint64 `json:"seq"`
	T    uint64 `json:"t"`
	Err  string `json:"err"`
}

// ndntsScript returns node and the interop script, or skips t: the
// script's packages (NDNts, pinned in its package.json and
// package-lock.json) are installed by scripts/install-deps.sh.
func ndntsScript(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("needs Node.js (node) for the NDNts interop test")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "ndnts"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@ndn", "svs")); err != nil {
		t.Skipf("NDNts is not installed in %s: run scripts/install-deps.sh (npm ci there)", dir)
	}
	return node, filepath.Join(dir, "svs.mjs")
}

// TestNDNtsInterop: a stock NDNts SvSync node (SVS v3, @ndn/svs
// 0.0.20250307, testdata/ndnts/svs.mjs) joins a room's sync group next to
// two `peets bot`s, on peets' own forwarder and on NFD. Both ways:
//   - NDNts accepts every Peets sync Interest (no rxerror) and its update
//     events follow each bot's heartbeats (the bot's entry advancing);
//   - the bots accept NDNts's vectors (no bad_vector) and take the NDNts
//     node's entry, which only NDNts's own vectors carry, for a claim: the
//     NDNts node gets an Interest for <its name>/sync/t=<its boot>/seq=<a
//     seq it announced>, and each bot counts that fetch's failure (nothing
//     answers it, so the node never joins any roster).
func TestNDNtsInterop(t *testing.T) {
	node, script := ndntsScript(t)
	for _, fwKind := range []string{"peets", "nfd"} {
		t.Run(fwKind, func(t *testing.T) {
			p := newProcs(t)
			var fw string
			if fwKind == "nfd" {
				nfd := e2etest.NewNFD(t)
				nfd.Start()
				fw = nfd.URI()
			} else {
				fw = p.forwarder()
			}
			room := fmt.Sprintf("nts%d%s", os.Getpid()%100000, fwKind)
			users := []string{"alice", "bob"}
			bs := p.bots(room, fw, users, "--heartbeat", "1s")
			waitAllSee(t, bs, users)

			self := "/ndnts/user/nd/" + room
			nts := p.run("ndnts", node, []string{script, "--sock", strings.TrimPrefix(fw, "unix://"),
				"--group", "/peets/room/" + room, "--name", self,
				"--duration", "8000", "--publish-after", "3000", "--publishes", "3"})
			if _, err := nts.WaitLine(regexp.MustCompile(`^\{"ev":"done"\}$`), 40*time.Second); err != nil {
				t.Fatalf("the NDNts node did not finish: %v", err)
			}
			evs := ndntsEvents(t, nts)

			// NDNts hears Peets.
			var ready ndntsEvent
			published := map[uint64]bool{}
			var seqs []uint64
			his := map[string][]uint64{}
			for _, e := range evs {
				switch e.Ev {
				case "ready":
					ready = e
				case "rxerror":
					t.Errorf("NDNts rejected a sync Interest: %s", e.Err)
				case "update":
					his[e.Name] = append(his[e.Name], e.Hi)
				case "publish":
					published[e.Seq] = true
					seqs = append(seqs, e.Seq)
				}
			}
			for _, u := range users {
				name := "/peets/user/" + u + "/" + room
				h := his[name]
				t.Logf("NDNts saw %s at seqs %v", name, h)
				if len(h) < 3 {
					t.Errorf("NDNts saw %d updates of %s, want >= 3 (a heartbeat a second for ~8 s)", len(h), name)
				}
				for i := 1; i < len(h); i++ {
					if h[i] <= h[i-1] {
						t.Errorf("NDNts saw %s go from seq %d to %d", name, h[i-1], h[i])
					}
				}
			}

			// Peets hears NDNts: the bots fetch the NDNts node's claims.
			claims := 0
			for _, e := range evs {
				if e.Ev == "interest" && e.T == ready.Boot && published[e.Seq] &&
					strings.HasPrefix(e.Name, self+"/sync/") {
					claims++
				}
			}
			t.Logf("the NDNts node (boot %d) announced seqs %v; Peets fetched its claims %d times", ready.Boot, seqs, claims)
			if claims == 0 {
				t.Errorf("no Peets member fetched the NDNts node's claims:\n%s", nts.Output())
			}
			for _, b := range bs {
				rej := b.syncRejected(t)
				t.Logf("%s: sync_rejected %v", b.user, rej)
				if rej["bad_vector"] != 0 {
					t.Errorf("%s dropped %d sync Interests as malformed (NDNts's vectors?)", b.user, rej["bad_vector"])
				}
				if rej["timeout"]+rej["no_route"] == 0 {
					t.Errorf("%s counted no failed fetch of the NDNts node's claim: it never heard NDNts's vector", b.user)
				}
				if b.joinCount("nd") != 0 {
					t.Errorf("%s listed the NDNts node as a member", b.user)
				}
			}
		})
	}
}

// ndntsEvents parses the script's JSON lines.
func ndntsEvents(t *testing.T, p *proc.Proc) []ndntsEvent {
	t.Helper()
	var out []ndntsEvent
	for _, l := range p.Lines() {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var e ndntsEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("NDNts line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}
