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
)

// Embedded returns copies of the bot media built into the binary: a VP8 IVF
// (640x480, 25 fps, 10 s, key frame every 2 s) and an Opus Ogg (48 kHz mono,
// 20 ms packets, 10 s). See testdata/README.md.
func Embedded() (ivf, ogg []byte) {
	return bytes.Clone(embeddedIVF), bytes.Clone(embeddedOgg)
}
