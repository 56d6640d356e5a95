package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/proto"
)

func TestFillRates(t *testing.T) {
	t0 := time.Unix(100, 0)
	hist := []fetchSample{
		{at: t0, delivered: 1000, lost: 10, holes: 20, bytes: 1e6, markers: 100, delayMS: 50, delays: 1000},
		{at: t0.Add(time.Second), delivered: 1090, lost: 10, holes: 25, bytes: 1.1e6, markers: 130},
		{at: t0.Add(2 * time.Second), delivered: 1180, lost: 30, holes: 40, bytes: 1.25e6, markers: 160, delayMS: 410, delays: 1180},
	}
	var sq proto.StreamQuality
	fillRates(&sq, hist, true)
	if sq.PacketRate != 90 || sq.LossPct != 10 || sq.HolesPct != 10 {
		t.Errorf("got rate %v loss %v holes %v, want 90, 10, 10", sq.PacketRate, sq.LossPct, sq.HolesPct)
	}
	if sq.Bitrate != 1e6 || sq.FrameRate != 30 || sq.BufferDelayMs != 2 {
		t.Errorf("got bitrate %v fps %v buffer delay %v, want 1e6, 30, 2", sq.Bitrate, sq.FrameRate, sq.BufferDelayMs)
	}
	sq = proto.StreamQuality{}
	if fillRates(&sq, hist, false); sq.FrameRate != 0 {
		t.Errorf("audio has a frame rate: %+v", sq)
	}
	sq = proto.StreamQuality{}
	fillRates(&sq, hist[:1], true)
	if sq.PacketRate != 0 || sq.LossPct != 0 {
		t.Errorf("one sample: %+v", sq)
	}
}
