package source

import (
	"context"
	"math"
	"testing"
	"time"
)

// streamRate is the packet and bit rate of one stream over media time.
type streamRate struct {
	packets, bytes int // bytes: marshalled RTP packets (header included)
}

func (r streamRate) perSecond(d time.Duration) (pps, kbps float64) {
	s := d.Seconds()
	return float64(r.packets) / s, float64(r.bytes) * 8 / 1000 / s
}

// TestReportRates plays the bot media once and logs the RTP packet and bit
// rates per second of media (RTP headers included, no UDP/IP/SRTP/NDN).
func TestReportRates(t *testing.T) {
	s := mustOpenDefault(t, fast(false))
	rates := map[string]*streamRate{StreamVideo: {}, StreamAudio: {}}
	var maxVideo int
	err := s.Run(context.Background(), func(p Packet) {
		b, err := p.RTP.Marshal()
		if err != nil {
			t.Error(err)
		}
		r := rates[p.Stream]
		r.packets++
		r.bytes += len(b)
		if p.Stream == StreamVideo {
			maxVideo = max(maxVideo, len(b))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	vpps, vkbps := rates[StreamVideo].perSecond(s.videos[0].loopDuration())
	apps, akbps := rates[StreamAudio].perSecond(s.audio.loopDuration())
	t.Logf("video: %d packets in %v: %.1f pkt/s, %.0f kbit/s (largest packet %d B)",
		rates[StreamVideo].packets, s.videos[0].loopDuration(), vpps, vkbps, maxVideo)
	t.Logf("audio: %d packets in %v: %.1f pkt/s, %.1f kbit/s",
		rates[StreamAudio].packets, s.audio.loopDuration(), apps, akbps)
	if vpps < 25 || vpps > 100 || vkbps < 300 || vkbps > 600 {
		t.Errorf("video rate %.1f pkt/s %.0f kbit/s out of the expected range", vpps, vkbps)
	}
	if math.Abs(apps-25) > 0.5 || akbps < 20 || akbps > 60 {
		t.Errorf("audio rate %.1f pkt/s %.1f kbit/s out of the expected range", apps, akbps)
	}
}

// BenchmarkRun measures the cost of producing and marshalling one pass of
// the bot media (10 s of video and audio) unpaced.
func BenchmarkRun(b *testing.B) {
	s := mustOpenDefault(b, fast(false))
	ctx := context.Background()
	packets := 0
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		s.videos[0].next, s.audio.next = 0, 0
		if err := s.Run(ctx, func(p Packet) {
			n, err := p.RTP.MarshalTo(buf[:cap(buf)])
			if err != nil || n == 0 {
				b.Fatal(err)
			}
			packets++
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(packets)/float64(b.N), "pkts/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/pkt")
}
