package forwarder

import (
	enc "github.com/named-data/ndnd/std/encoding"
)

// Congestion marks (NDNLPv2 CongestionMark): NFD marks a packet it sends
// on a face whose send queue is over its threshold, and a forwarder that
// relays the packet keeps the mark (linkFrame). ndnd's engine drops LP
// fields before the application sees a Data, so the faces look for the
// mark on the way in and tell Conn's OnCongestionMark the marked Data's
// name: a subscriber takes marks on a stream's packets as a sign of a
// standing queue on its path (media/adapt).

// markedData returns the name of the Data in frame if frame is an
// LpPacket with a non-zero CongestionMark around a Data. frame has passed
// validatePacket.
func markedData(frame []byte) (enc.Name, bool) {
	if len(frame) == 0 || frame[0] != tLpPacket {
		return nil, false
	}
	typ, v, _, err := nextTLV(frame)
	if err != nil || typ != tLpPacket {
		return nil, false
	}
	marked := false
	var frag []byte
	for len(v) > 0 {
		t, val, rest, err := nextTLV(v)
		if err != nil {
			return nil, false
		}
		switch t {
		case tLpCongestion:
			marked = natValue(val) != 0
		case tLpFragment:
			frag = val
		}
		v = rest
	}
	if !marked || len(frag) == 0 {
		return nil, false
	}
	typ, data, _, err := nextTLV(frag)
	if err != nil || typ != tData {
		return nil, false
	}
	typ, name, _, err := nextTLV(data)
	if err != nil || typ != tName {
		return nil, false
	}
	r := enc.NewBufferView(name)
	n, err := r.ReadName()
	if err != nil {
		return nil, false
	}
	return n, true
}

// OnCongestionMark adds a function told the name of each Data that
// arrives with a congestion mark; the returned function removes it. Each
// runs on the face's receiving goroutine, before the engine sees the Data:
// it must be quick.
func (c *Conn) OnCongestionMark(f func(name enc.Name)) (remove func()) {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	c.markID++
	id := c.markID
	next := map[uint64]func(enc.Name){id: f}
	if cur := c.onMark.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	c.onMark.Store(&next)
	return func() {
		c.markMu.Lock()
		defer c.markMu.Unlock()
		cur := c.onMark.Load()
		if cur == nil {
			return
		}
		next := make(map[uint64]func(enc.Name), len(*cur))
		for k, v := range *cur {
			if k != id {
				next[k] = v
			}
		}
		c.onMark.Store(&next)
	}
}

// lpFrame looks for a congestion mark on an LpPacket from the forwarder.
func (c *Conn) lpFrame(frame []byte) {
	name, ok := markedData(frame)
	if !ok {
		return
	}
	c.marks.Add(1)
	if fs := c.onMark.Load(); fs != nil {
		for _, f := range *fs {
			f(name)
		}
	}
}
