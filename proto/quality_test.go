package proto

import (
	"errors"
	"testing"
)

func TestQualitySignal(t *testing.T) {
	good := `{"type":"quality","data":{"streams":[{"participant":"alice","stream":"cam","kind":"video","layer":"m","top":"h","layers":3,"layerIndex":1,"packetRate":90,"lossPct":0.5,"holesPct":1,"stalledMs":0,"srttMs":4}],"uplink":{"receivers":1,"sending":"h","pulled":"m","top":"h","reduced":true}}}`
	m, err := DecodeSignal([]byte(good), FromServer, 0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := DataAs[Quality](m)
	if err != nil || len(q.Streams) != 1 || q.Uplink == nil || !q.Uplink.Reduced || q.Streams[0].LayerIndex != 1 {
		t.Fatalf("decoded %+v, %v", q, err)
	}
	if _, err := DecodeSignal([]byte(good), FromPage, 0); !errors.Is(err, ErrSignalNotAllowed) {
		t.Errorf("a page sent quality: %v", err)
	}
	for _, bad := range []string{
		`{"type":"quality","data":{"streams":[{"participant":"","kind":"video"}]}}`,
		`{"type":"quality","data":{"streams":[{"participant":"a","kind":"screen"}]}}`,
		`{"type":"quality","data":{"streams":[{"participant":"a","kind":"audio","lossPct":-1}]}}`,
	} {
		if _, err := DecodeSignal([]byte(bad), FromServer, 0); !errors.Is(err, ErrSignalBadData) {
			t.Errorf("%s: %v, want bad data", bad, err)
		}
	}
}
