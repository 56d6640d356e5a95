package source

import (
	"bytes"
	_ "embed" // for go:embed
)

// The bot media live only in assets/ (go:embed cannot reach ../../testdata,
// nor follow symlinks); testdata/bot.ivf and testdata/bot.ogg are symlinks to
// them. scripts/make-testdata.sh regenerates them.
var (
	//go:embed assets/bot.ivf
	embeddedIVF []byte
	//go:embed assets/bot.ogg
	embeddedOgg []byte
	// A simulcast camera (scripts/make-layers.sh): one picture at 1/4, 1/2
	// and full 720p, as a page's three layers.
	//go:embed assets/cam-l.ivf
	embeddedCamL []byte
	//go:embed assets/cam-m.ivf
	embeddedCamM []byte
	//go:embed assets/cam-h.ivf
	embeddedCamH []byte
)

// EmbeddedLayers are the simulcast camera built into the binary, lowest
// first (rids l, m, h: 320x180, 640x360, 1280x720, 20 fps, 6 s, ~120, 350
// and 1000 kbit/s), for Options.Layers.
func EmbeddedLayers() []Layer {
	return []Layer{{RID: "l", Data: embeddedCamL}, {RID: "m", Data: embeddedCamM}, {RID: "h", Data: embeddedCamH}}
}

// Embedded returns copies of the bot media built into the binary: a VP8 IVF
// (640x480, 25 fps, 10 s, key frame every 2 s) and an Opus Ogg (48 kHz mono,
// 40 ms packets as a page sends them, 10 s). See testdata/README.md.
func Embedded() (ivf, ogg []byte) {
	return bytes.Clone(embeddedIVF), bytes.Clone(embeddedOgg)
}
