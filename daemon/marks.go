package daemon

import (
	"sync"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Congestion marks on remote media (forwarder.Conn.OnCongestionMark): each
// marked Data counts for its stream (P/media/<stream>), and the layer
// choice of a remote camera takes its current layer's count every interval
// (layered.go, media/adapt: marks are a standing queue on the path).

// maxMarkedStreams bounds the streams counted between two takes (marks
// on streams nobody takes, audio, are dropped when it is reached).
const maxMarkedStreams = 256

type markCounts struct {
	mu sync.Mutex
	n  map[string]int
}

// add counts a marked Data by its stream: the name less its t=<boot> and
// seq=<n> components (other names are not media and are ignored).
func (m *markCounts) add(name enc.Name) {
	l := len(name)
	if l < 3 || name[l-1].Typ != enc.TypeSequenceNumNameComponent || name[l-2].Typ != enc.TypeTimestampNameComponent {
		return
	}
	key := name[:l-2].String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil || len(m.n) >= maxMarkedStreams {
		m.n = map[string]int{}
	}
	m.n[key]++
}

// take returns the marks counted for stream (a P/media/<stream> name) since
// the last take, and forgets them.
func (m *markCounts) take(stream string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.n[stream]
	delete(m.n, stream)
	return n
}
