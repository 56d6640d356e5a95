package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/proto"
)

func TestFillRates(t *testing.T) {
	t0 := time.Unix(100, 0)
	hist := []fetchSample{
		{at: t0, delivered: 1000, lost: 10, holes: 20},
		{at: t0.Add(time.Second), delivered: 1090, lost: 10, holes: 25},
		{at: t0.Add(2 * time.Second), delivered: 1180, lost: 30, holes: 40},
	}
	var sq proto.StreamQuality
	fillRates(&sq, hist)
	if sq.PacketRate != 90 || sq.LossPct != 10 || sq.HolesPct != 10 {
		t.Errorf("got rate %v loss %v holes %v, want 90, 10, 10", sq.PacketRate, sq.LossPct, sq.HolesPct)
	}
	sq = proto.StreamQuality{}
	fillRates(&sq, hist[:1])
	if sq.PacketRate != 0 || sq.LossPct != 0 {
		t.Errorf("one sample: %+v", sq)
	}
}
