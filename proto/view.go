package proto

import (
	"errors"
	"fmt"
)

// TypeView tells the proxy what its page shows (page to server, data
// View): the remote participants whose video is on screen and how tall
// each tile is. The proxy pulls, of a simulcast camera, the lowest layer
// that fills its tile (as the path allows), and no video of a participant
// off screen; audio is not affected. A page that never sends it is taken
// to show everyone large. Sent when the layout changes.
const TypeView = "view"

// Bounds of a view.
const (
	MaxViewTiles  = 1000
	MaxTileHeight = 8192 // device pixels
)

// View is the data of view.
type View struct {
	Tiles []ViewTile `json:"tiles"`
}

// ViewTile is one remote video on screen.
type ViewTile struct {
	ID     string `json:"id"`     // the participant's user id
	Height int    `json:"height"` // the tile's height in device pixels; 0: not laid out yet (no size limit)
}

var errBadView = errors.New("bad view data")

func (v *View) validate() error {
	if len(v.Tiles) > MaxViewTiles {
		return fmt.Errorf("%w: %d tiles (max %d)", errBadView, len(v.Tiles), MaxViewTiles)
	}
	for _, t := range v.Tiles {
		if err := ValidIdent(t.ID); err != nil {
			return fmt.Errorf("%w: %v", errBadView, err)
		}
		if t.Height < 0 || t.Height > MaxTileHeight {
			return fmt.Errorf("%w: tile %s of height %d", errBadView, t.ID, t.Height)
		}
	}
	return nil
}
