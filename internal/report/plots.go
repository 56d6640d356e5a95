package report

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/peets/peets/internal/bench"
)

// Colours: Peets in blue, the baseline it is compared with in grey or
// orange.
var (
	peetsColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	baselineColor = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	meshColor     = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
	palette       = []color.Color{peetsColor, baselineColor, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}}
)

// A Plot is one PNG of the report.
type Plot struct {
	File    string // name in the plots directory
	Title   string // alt text
	Caption string
}

// newPlot is a plot with the report's look.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// line adds a line with points to p.
func line(p *plot.Plot, name string, c color.Color, pts plotter.XYs, dashed bool) error {
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	s.Shape = draw.CircleGlyph{}
	s.Radius = vg.Points(2)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// intTicks labels the x axis at these values only.
func intTicks(p *plot.Plot, xs []float64) {
	var ticks []plot.Tick
	for _, x := range xs {
		ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprintf("%.0f", x)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
}

// vline draws a dashed vertical line at x from y0 to y1 (a schedule's
// change).
func vline(p *plot.Plot, x, y0, y1 float64) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
	if err != nil {
		return err
	}
	l.Color = meshColor
	l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(l)
	return nil
}

func save(p *plot.Plot, dir, file string) error {
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, filepath.Join(dir, file))
}

// plotUpload: the publisher's upload against the number of subscribers,
// beside what a mesh uploads (one copy per other participant).
func plotUpload(fan []bench.FanoutResult, dir string) (*Plot, error) {
	if len(fan) < 2 {
		return nil, nil
	}
	p := newPlot("Publisher upload against subscribers", "subscribers", "copies of each packet sent")
	var peets, mesh plotter.XYs
	var xs []float64
	for _, f := range fan {
		peets = append(peets, plotter.XY{X: float64(f.Subscribers), Y: f.UploadFactor})
		mesh = append(mesh, plotter.XY{X: float64(f.Subscribers), Y: float64(f.MeshUploadFactor)})
		xs = append(xs, float64(f.Subscribers))
	}
	intTicks(p, xs)
	if err := line(p, "Peets (measured)", peetsColor, peets, false); err != nil {
		return nil, err
	}
	if err := line(p, "WebRTC mesh (a copy per subscriber)", meshColor, mesh, true); err != nil {
		return nil, err
	}
	p.Y.Min, p.Y.Max = 0, 1.2*float64(fan[len(fan)-1].MeshUploadFactor)
	if err := save(p, dir, "upload.png"); err != nil {
		return nil, err
	}
	return &Plot{File: "upload.png", Title: "publisher upload factor against subscribers",
		Caption: "What the publisher sends, in copies of each packet, as subscribers are added; a mesh sends one per other participant."}, nil
}

// plotLatency: the latency distribution (publish to delivery) per number
// of subscribers.
func plotLatency(fan []bench.FanoutResult, dir string) (*Plot, error) {
	p := newPlot("Latency, publish to delivery (one machine)", "latency (ms)", "fraction of packets")
	n := 0
	xmax := 0.0
	for i, f := range fan {
		if len(f.LatencyCDFMs) < 2 {
			continue
		}
		xmax = max(xmax, 1.5*f.LatencyCDFMs[len(f.LatencyCDFMs)*19/20])
		var pts plotter.XYs
		for j, ms := range f.LatencyCDFMs {
			pts = append(pts, plotter.XY{X: ms, Y: float64(j) / float64(len(f.LatencyCDFMs)-1)})
		}
		if err := line(p, subscribers(f.Subscribers), palette[i%len(palette)], pts, false); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	p.Legend.Left, p.Legend.Top = false, false
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min, p.X.Max = 0, xmax
	if err := save(p, dir, "latency-cdf.png"); err != nil {
		return nil, err
	}
	return &Plot{File: "latency-cdf.png", Title: "latency CDF",
		Caption: "Distribution of the time from a packet's publication to its delivery to a subscriber's proxy, at each 5th percentile (the axis ends at 1.5 times the largest p95: the maximum is in the table's p99 and the JSON)."}, nil
}

// plotFirstFrame: each late joiner's time from page load to its first
// decoded remote frame.
func plotFirstFrame(call *bench.CallResult, dir string) (*Plot, error) {
	if call == nil || len(call.FirstFrameMs) == 0 {
		return nil, nil
	}
	p := newPlot("First remote frame after a page loads", "join", "ms")
	var pts plotter.XYs
	var xs []float64
	for i, ms := range call.FirstFrameMs {
		pts = append(pts, plotter.XY{X: float64(i + 1), Y: ms})
		xs = append(xs, float64(i+1))
	}
	intTicks(p, xs)
	if err := line(p, "first decoded remote frame", peetsColor, pts, false); err != nil {
		return nil, err
	}
	goal := plotter.XYs{{X: 1, Y: 1000}, {X: float64(len(pts)), Y: 1000}}
	if err := line(p, "goal (1 s)", meshColor, goal, true); err != nil {
		return nil, err
	}
	p.Y.Min = 0
	if err := save(p, dir, "first-frame.png"); err != nil {
		return nil, err
	}
	return &Plot{File: "first-frame.png", Title: "first frame times",
		Caption: "Each late joiner of `bench call`: from its page's load to its first decoded remote frame."}, nil
}

// plotNetSeries: one figure of the receiving page, second by second
// through a link schedule, Peets beside the direct WebRTC call.
func plotNetSeries(net *bench.NetResult, dir, file, what, unit string, series func(bench.ReceiverResult) []float64) (*Plot, error) {
	if net == nil || net.Peets == nil || len(net.Peets.Receivers) == 0 {
		return nil, nil
	}
	sched := schedule(net)
	p := newPlot(fmt.Sprintf("%s at the receiving page, uplink %s", what, sched), "second of the window", unit)
	top := 0.0
	add := func(name string, c color.Color, ph *bench.PhaseResult) error {
		if ph == nil || len(ph.Receivers) == 0 {
			return nil
		}
		var pts plotter.XYs
		for i, v := range series(ph.Receivers[0]) {
			pts = append(pts, plotter.XY{X: float64(i), Y: v})
			top = max(top, v)
		}
		if len(pts) == 0 {
			return nil
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("Peets", peetsColor, net.Peets); err != nil {
		return nil, err
	}
	if err := add("direct WebRTC", baselineColor, net.Direct); err != nil {
		return nil, err
	}
	p.Y.Min, p.Y.Max = 0, 1.3*top
	p.Legend.Left = false
	for _, a := range net.Peets.Receivers[0].Adapt {
		if err := vline(p, a.AtS, 0, 1.3*top); err != nil {
			return nil, err
		}
	}
	if err := save(p, dir, file); err != nil {
		return nil, err
	}
	return &Plot{File: file, Title: what + " through the link schedule",
		Caption: fmt.Sprintf("%s of the receiving page (getStats), each second, uplink schedule %s (dashed: the link's changes); Peets, and two pages connected directly on the same link.", what, sched)}, nil
}
