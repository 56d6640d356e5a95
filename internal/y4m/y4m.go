// Package y4m writes a synthetic camera clip in YUV4MPEG2 (Y4M, 4:2:0) for
// Chromium's --use-file-for-fake-video-capture: a busy picture that makes
// a video encoder work the way a real camera does (Chromium's built-in
// fake camera is a flat test pattern that VP8 encodes in ~0.5 Mbit/s at
// 720p). The clip is generated, never stored: the same Clip always gives
// the same bytes.
//
// The picture: a random texture (blobs over larger shapes) in horizontal
// bands that scroll at different speeds, a few bright discs that move
// across it, and a little fresh noise on every frame, as a camera's sensor
// adds.
package y4m

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// Clip describes a clip.
type Clip struct {
	Width, Height int    // even, at most 3840x2160
	FPS           int    // frames per second, 1 to 60
	Frames        int    // frames in the clip (Chromium loops it)
	Noise         int    // amplitude of the per-frame noise on luma, 0 to 64
	Seed          uint64 // the texture and the noise
}

// Default is a 720p clip at 20 frames per second, 3 s long (~83 MB):
// Chromium's VP8 encoder spends a 1.5 Mbit/s cap on it (and climbs to
// 960x540, the largest size its bitrate limits allow at 1.5 Mbit/s).
func Default() Clip {
	return Clip{Width: 1280, Height: 720, FPS: 20, Frames: 60, Noise: 1, Seed: 1}
}

// ErrBadClip is returned for out-of-range parameters.
var ErrBadClip = errors.New("y4m: bad clip parameters")

// Validate checks the parameters.
func (c Clip) Validate() error {
	switch {
	case c.Width <= 0 || c.Height <= 0 || c.Width%2 != 0 || c.Height%2 != 0 || c.Width > 3840 || c.Height > 2160:
		return fmt.Errorf("%w: size %dx%d", ErrBadClip, c.Width, c.Height)
	case c.FPS < 1 || c.FPS > 60:
		return fmt.Errorf("%w: %d fps", ErrBadClip, c.FPS)
	case c.Frames < 1 || c.Frames > 1200:
		return fmt.Errorf("%w: %d frames", ErrBadClip, c.Frames)
	case c.Noise < 0 || c.Noise > 64:
		return fmt.Errorf("%w: noise %d", ErrBadClip, c.Noise)
	}
	return nil
}

// Size is the clip's size in bytes.
func (c Clip) Size() int64 {
	return int64(len(c.header())) + int64(c.Frames)*int64(len("FRAME\n")+c.Width*c.Height*3/2)
}

func (c Clip) header() string {
	return fmt.Sprintf("YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", c.Width, c.Height, c.FPS)
}

// WriteFile writes the clip to path.
func (c Clip) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.Write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// Write writes the clip to w.
func (c Clip) Write(w io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := io.WriteString(bw, c.header()); err != nil {
		return err
	}
	tex := newTexture(c.Width*2, c.Height, c.Seed)
	rng := rand64(c.Seed ^ 0x9e3779b97f4a7c15)
	y := make([]byte, c.Width*c.Height)
	u := make([]byte, c.Width*c.Height/4)
	v := make([]byte, c.Width*c.Height/4)
	for i := range c.Frames {
		c.frame(i, tex, &rng, y, u, v)
		for _, b := range [][]byte{[]byte("FRAME\n"), y, u, v} {
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// frame draws frame i.
func (c Clip) frame(i int, tex *texture, rng *rand64, y, u, v []byte) {
	w, h := c.Width, c.Height
	const bands = 6
	for row := range h {
		band := row * bands / h
		// Bands scroll left and right at 1 to 3 pixels a frame.
		speed := band%3 + 1
		if band%2 == 1 {
			speed = -speed
		}
		off := ((i*speed)%tex.w + tex.w) % tex.w
		src := tex.pix[row*tex.w:]
		dst := y[row*w : (row+1)*w]
		for x := range dst {
			dst[x] = src[(x+off)%tex.w]
		}
	}
	// Bright discs moving on their own paths.
	for d := range 5 {
		r := h/12 + d*h/60
		cx := (w/6 + d*w/5 + i*(7+d*3)) % w
		cy := h/4 + (d*h/7+i*(3+d))%(h/2)
		disc(y, w, h, cx, cy, r, byte(200+d*10))
	}
	if c.Noise > 0 {
		span := uint64(2*c.Noise + 1)
		for k := range y {
			n := int(rng.next()%span) - c.Noise
			y[k] = clamp(int(y[k]) + n)
		}
	}
	// Chroma: the texture, coarse, shifted with the first band's scroll,
	// around the middle value.
	cw, ch := w/2, h/2
	off := (i * 2) % tex.w
	for row := range ch {
		src := tex.pix[(row*2)*tex.w:]
		for x := range cw {
			t := int(src[(x*2+off)%tex.w])
			u[row*cw+x] = byte(96 + t/4)
			v[row*cw+x] = byte(160 - t/4)
		}
	}
}

func disc(y []byte, w, h, cx, cy, r int, val byte) {
	for dy := -r; dy <= r; dy++ {
		yy := cy + dy
		if yy < 0 || yy >= h {
			continue
		}
		for dx := -r; dx <= r; dx++ {
			xx := cx + dx
			if xx < 0 || xx >= w || dx*dx+dy*dy > r*r {
				continue
			}
			y[yy*w+xx] = val
		}
	}
}

// texture is a grey picture with detail at several scales.
type texture struct {
	w, h int
	pix  []byte
}

func newTexture(w, h int, seed uint64) *texture {
	t := &texture{w: w, h: h, pix: make([]byte, w*h)}
	rng := rand64(seed)
	acc := make([]int, w*h)
	// Value noise at cells of 64, 16 and 4 pixels, summed with weights.
	// Value noise at cells of 64 and 16 pixels, summed with weights: busy
	// enough that VP8 spends a 1.5 Mbit/s cap at 960x540, not so busy that
	// its quality scaler keeps the picture small.
	octaves := []struct{ cell, weight int }{{64, 6}, {16, 3}}
	for _, o := range octaves {
		gw, gh := w/o.cell+2, h/o.cell+2
		grid := make([]int, gw*gh)
		for k := range grid {
			grid[k] = int(rng.next() % 256)
		}
		for yy := range h {
			gy, fy := yy/o.cell, yy%o.cell
			for xx := range w {
				gx, fx := xx/o.cell, xx%o.cell
				a := grid[gy*gw+gx]*(o.cell-fx) + grid[gy*gw+gx+1]*fx
				b := grid[(gy+1)*gw+gx]*(o.cell-fx) + grid[(gy+1)*gw+gx+1]*fx
				acc[yy*w+xx] += o.weight * (a*(o.cell-fy) + b*fy) / (o.cell * o.cell)
			}
		}
	}
	for k, a := range acc {
		t.pix[k] = clamp(16 + a*219/(9*255))
	}
	return t
}

func clamp(v int) byte {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return byte(v)
}

// rand64 is xorshift64*: fast, and the same sequence on every machine.
type rand64 uint64

func (r *rand64) next() uint64 {
	x := uint64(*r)
	if x == 0 {
		x = 0x2545f4914f6cdd1d
	}
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rand64(x)
	return x * 0x2545f4914f6cdd1d
}
