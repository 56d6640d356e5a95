package proto

import (
	"errors"
	"testing"
)

func TestQualitySignal(t *testing.T) {
	good := `{"type":"quality","data":{"streams":[{"participant":"alice","stream":"cam","kind":"video","layer":"m","top":"h","layers":3,"layer_index":1,"packets_per_s":90,"loss_pct":0.5,"holes_pct":1,"bitrate_bps":800000,"frames_per_s":25,"buffer_delay_ms":2.5,"stalled_ms":0,"srtt_ms":4.5}],"uplink":{"receivers":1,"sending":"h","pulled":"m","top":"h","reduced":true}}}`
	m, err := DecodeSignal([]byte(good), FromServer, 0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := DataAs[Quality](m)
	if err != nil || len(q.Streams) != 1 || q.Uplink == nil || !q.Uplink.Reduced || q.Streams[0].LayerIndex != 1 || q.Streams[0].FrameRate != 25 || q.Streams[0].SRTTMs != 4.5 {
		t.Fatalf("decoded %+v, %v", q, err)
	}
	if _, err := DecodeSignal([]byte(good), FromPage, 0); !errors.Is(err, ErrSignalNotAllowed) {
		t.Errorf("a page sent quality: %v", err)
	}
	for _, bad := range []string{
		`{"type":"quality","data":{"streams":[{"participant":"","kind":"video"}]}}`,
		`{"type":"quality","data":{"streams":[{"participant":"a","kind":"screen"}]}}`,
		`{"type":"quality","data":{"streams":[{"participant":"a","kind":"audio","loss_pct":-1}]}}`,
		`{"type":"quality","data":{"streams":[{"participant":"a","kind":"audio","bitrate_bps":-1}]}}`,
	} {
		if _, err := DecodeSignal([]byte(bad), FromServer, 0); !errors.Is(err, ErrSignalBadData) {
			t.Errorf("%s: %v, want bad data", bad, err)
		}
	}
}
