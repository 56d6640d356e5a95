package daemon

import (
	"context"
	"slices"
	"time"
)

// The I/O around activeLayers (idlelayers.go): every layerTick, and at once
// when an Interest asks for a paused layer, the daemon decides which layers
// of the page's camera to encode and tells the publishing page when that
// changes (proto.Layers).

// layerTick is how often idle layers are looked for; a resume does not
// wait for it.
const layerTick = 500 * time.Millisecond

// LayerSink is a RemoteSink that also takes the layers its camera should
// send (the publishing page; others ignore it). It must not block.
type LayerSink interface {
	SendLayers(active []string)
}

// LocalLayerStats is one layer of the page's camera at the publisher.
type LocalLayerStats struct {
	RID     string `json:"rid"`
	Active  bool   `json:"active"`  // the page is asked to send it
	Pauses  uint64 `json:"pauses"`  // times it was paused: nobody asked for it for LayerIdle
	Resumes uint64 `json:"resumes"` // times an Interest resumed it
}

// layerAsked is the publisher's OnInterest of a layer (engine goroutine).
func (d *Daemon) layerAsked(l *localStream) {
	l.lastPull.Store(time.Now().UnixNano())
	if l.paused.Load() {
		select {
		case d.layerWake <- struct{}{}:
		default:
		}
	}
}

// layerLoop pauses and resumes the camera's layers until ctx is done.
func (d *Daemon) layerLoop(ctx context.Context) {
	t := time.NewTicker(layerTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.layerWake:
		}
		d.updateLayers(time.Now())
	}
}

// cameraLayers are the published layers of the camera, lowest first.
func (d *Daemon) cameraLayers() []*localStream {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*localStream
	for _, cfg := range d.cfg.Layers() {
		for _, l := range d.locals {
			if l.layer.rid == cfg.RID {
				out = append(out, l)
			}
		}
	}
	return out
}

// updateLayers applies activeLayers and tells the pages.
func (d *Daemon) updateLayers(now time.Time) {
	ls := d.cameraLayers()
	if len(ls) == 0 {
		return
	}
	pulls := make([]layerPull, len(ls))
	for i, l := range ls {
		pulls[i] = layerPull{RID: l.layer.rid, Last: time.Unix(0, l.lastPull.Load())}
	}
	active := activeLayers(now, d.cfg.LayerIdle, pulls)
	var paused []string
	for i, l := range ls {
		if !active[i] {
			paused = append(paused, l.layer.rid)
		}
		if l.paused.Load() == !active[i] {
			continue
		}
		l.paused.Store(!active[i])
		if active[i] {
			l.resumes.Add(1)
			d.log.Info("camera layer resumed: a subscriber asks for it", "stream", l.id)
		} else {
			l.pauses.Add(1)
			d.log.Info("camera layer paused: nobody asked for it", "stream", l.id, "for", d.cfg.LayerIdle)
		}
	}
	// Layers not published (yet) are not paused: the page starts a camera
	// with every layer.
	send := []string{}
	for _, cfg := range d.cfg.Layers() {
		if !slices.Contains(paused, cfg.RID) {
			send = append(send, cfg.RID)
		}
	}
	for _, sk := range d.sinkList() {
		if s, ok := sk.(LayerSink); ok {
			s.SendLayers(send)
		}
	}
}

// localLayerStats describes the camera's layers for Stats.
func (d *Daemon) localLayerStats() map[string]LocalLayerStats {
	ls := d.cameraLayers()
	if len(ls) == 0 {
		return nil
	}
	out := make(map[string]LocalLayerStats, len(ls))
	for _, l := range ls {
		out[l.id] = LocalLayerStats{RID: l.layer.rid, Active: !l.paused.Load(), Pauses: l.pauses.Load(), Resumes: l.resumes.Load()}
	}
	return out
}
