package proto

import (
	"errors"
	"slices"
	"testing"
)

func TestLayersSignal(t *testing.T) {
	good := `{"type":"layers","data":{"active":["l","m"]}}`
	m, err := DecodeSignal([]byte(good), FromServer, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := DataAs[Layers](m)
	if err != nil || !slices.Equal(l.Active, []string{"l", "m"}) {
		t.Fatalf("decoded %+v, %v", l, err)
	}
	if _, err := DecodeSignal([]byte(good), FromPage, 0); !errors.Is(err, ErrSignalNotAllowed) {
		t.Errorf("a page sent layers: %v", err)
	}
	if _, err := NewSignal(TypeLayers, Layers{Active: []string{"l"}}); err != nil {
		t.Errorf("one layer: %v", err)
	}
	for _, bad := range []string{
		`{"type":"layers","data":{"active":["l","l"]}}`,
		`{"type":"layers","data":{"active":["l/x"]}}`,
		`{"type":"layers","data":{"active":[""]}}`,
		`{"type":"layers","data":{"active":["a","b","c","d","e"]}}`,
		`{"type":"layers","data":{"active":["l"],"paused":["m"]}}`,
	} {
		if _, err := DecodeSignal([]byte(bad), FromServer, 0); !errors.Is(err, ErrSignalBadData) {
			t.Errorf("%s: %v, want bad data", bad, err)
		}
	}
}
