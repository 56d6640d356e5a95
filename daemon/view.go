package daemon

import (
	"math"
	"sync"

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
}

// setView records page's view (nil: the page is gone) and has the roster
// loop apply it.
func (d *Daemon) setView(page any, v *proto.View) {
	d.views.mu.Lock()
	if d.views.pages == nil {
		d.views.pages = map[any]proto.View{}
	}
	if v == nil {
		delete(d.views.pages, page)
	} else {
		d.views.pages[page] = *v
	}
	d.views.mu.Unlock()
	select {
	case d.viewWake <- struct{}{}:
	default:
	}
}

// shown tells whether user's video is on a page, and the tallest tile
// showing it (0: no page said: shown, size unknown).
func (d *Daemon) shown(user string) (height int, on bool) {
	d.views.mu.Lock()
	defer d.views.mu.Unlock()
	if len(d.views.pages) == 0 {
		return 0, true
	}
	for _, v := range d.views.pages {
		for _, t := range v.Tiles {
			if t.ID == user {
				height, on = max(height, t.Height), true
			}
		}
	}
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
