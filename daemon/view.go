package daemon

import (
	"math"
	"sync"
	"time"

	"github.com/peets/peets/proto"
)

// What the pages show (issue #17; signal "view"): each page tells its proxy
// which remote videos are on screen and how tall their tiles are. The
// proxy pulls no video of a participant off screen, and of a simulcast
// camera no layer above the lowest that fills the tallest tile showing it
// (the path may allow less). Until a page says, everyone counts as shown
// large.

// views are the pages' views, by page.
type views struct {
	mu    sync.Mutex
	pages map[any]proto.View
	moves map[string]tileMove // by user: bits/s of video a tile made smaller let go for the user's, taken by the roster loop
}

// tileMove: when a view makes some tiles smaller and others larger (the
// speaker view's large tile moves to a new speaker), the bitrate the
// shrunk tiles' streams were pulling, now let go, is shared among the
// grown ones: the path carried it a moment ago, so a grown tile's stream
// takes the layer it pays for without a probe (adapt.Chooser.TileMoved).
type tileMove struct {
	at   time.Time
	rate float64
}

// setView records page's view (nil: the page is gone) and has the roster
// loop apply it.
func (d *Daemon) setView(page any, v *proto.View) {
	d.views.mu.Lock()
	if d.views.pages == nil {
		d.views.pages = map[any]proto.View{}
	}
	was := d.heightsLocked()
	if v == nil {
		delete(d.views.pages, page)
	} else {
		d.views.pages[page] = *v
	}
	now := d.heightsLocked()
	d.views.mu.Unlock()
	d.noteMoves(was, now)
	select {
	case d.viewWake <- struct{}{}:
	default:
	}
}

// heightsLocked is the tallest tile showing each user's video over the
// pages (d.views.mu held).
func (d *Daemon) heightsLocked() map[string]int {
	h := map[string]int{}
	for _, v := range d.views.pages {
		for _, t := range v.Tiles {
			h[t.ID] = max(h[t.ID], t.Height)
		}
	}
	return h
}

// noteMoves records the tile moves between two sets of the pages' tile
// heights (heightsLocked): a tile another page still shows large lets
// nothing go.
func (d *Daemon) noteMoves(was, now map[string]int) {
	var grown []string
	for id, h := range now {
		if h > was[id] {
			grown = append(grown, id)
		}
	}
	if len(grown) == 0 {
		return
	}
	rate := 0.0
	for id, h := range was {
		if now[id] < h {
			rate += d.carried(id)
		}
	}
	if rate <= 0 {
		return
	}
	at := time.Now()
	d.views.mu.Lock()
	defer d.views.mu.Unlock()
	if d.views.moves == nil {
		d.views.moves = map[string]tileMove{}
	}
	for _, id := range grown {
		d.views.moves[id] = tileMove{at: at, rate: rate / float64(len(grown))}
	}
}

// carried is the bitrate of user's layered video as its path carries it
// now (0: none, or the path loses packets).
func (d *Daemon) carried(user string) float64 {
	var lrs []*layeredRemote
	d.mu.Lock()
	for _, r := range d.remotes {
		if r.info.User == user {
			if lr := r.layered(); lr != nil {
				lrs = append(lrs, lr)
			}
		}
	}
	d.mu.Unlock()
	rate := 0.0
	for _, lr := range lrs {
		rate += lr.carried()
	}
	return rate
}

// takeMove returns (and forgets) the bitrate a tile move gave user's
// video within the last movedFor, or 0.
func (d *Daemon) takeMove(user string) float64 {
	d.views.mu.Lock()
	defer d.views.mu.Unlock()
	m, ok := d.views.moves[user]
	if !ok {
		return 0
	}
	delete(d.views.moves, user)
	if time.Since(m.at) > movedFor {
		return 0
	}
	return m.rate
}

// movedFor: a tile move not applied this soon is stale.
const movedFor = 2 * time.Second

// shown tells whether user's video is on a page, and the tallest tile
// showing it (0: no page said: shown, size unknown).
func (d *Daemon) shown(user string) (height int, on bool) {
	d.views.mu.Lock()
	defer d.views.mu.Unlock()
	if len(d.views.pages) == 0 {
		return 0, true
	}
	height, on = d.heightsLocked()[user]
	return height, on
}

// topLayerHeight is the height the pages' cameras are sent at, full size
// (the page asks its camera for 1280x720); a layer scaled down by s is
// topLayerHeight/s tall.
const topLayerHeight = 720

// fillSlack: a layer this much shorter than its tile still fills it (a
// browser scales it up a little; the next layer up costs ~3x the bits).
const fillSlack = 0.8

// viewLimit is the index of the lowest of layers (lowest first) whose
// pictures are tall enough for a tile of height device pixels; -1 when
// the size is unknown (no limit). A layer's scale is that of the layer of
// the same rid in known (the pages' simulcast settings), else twice the
// one above it.
func viewLimit(layers []proto.RosterStream, known []proto.SimulcastLayer, height int) int {
	if height <= 0 || len(layers) == 0 {
		return -1
	}
	for i, l := range layers {
		scale := math.Pow(2, float64(len(layers)-1-i))
		for _, k := range known {
			if k.RID == l.RID && k.ScaleDown >= 1 {
				scale = k.ScaleDown
			}
		}
		if topLayerHeight/scale >= fillSlack*float64(height) {
			return i
		}
	}
	return len(layers) - 1
}
