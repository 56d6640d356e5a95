package linktap

// Counts is what crossed a link in one direction. Bytes are on the wire
// (IP length + Ethernet header), as the interface counts them.
type Counts struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Media Interests (.../media/<stream>/t=/seq=), and those for a name
	// that already crossed this way: re-expressions (repairs, refreshes).
	Interests           uint64 `json:"media_interests"`
	InterestBytes       uint64 `json:"media_interest_bytes"`
	InterestRepeats     uint64 `json:"media_interest_repeats"`
	InterestRepeatBytes uint64 `json:"media_interest_repeat_bytes"`
	// Media Data, and those whose name already crossed this way: the same
	// packet carried again.
	MediaData      uint64 `json:"media_data"`
	MediaDataBytes uint64 `json:"media_data_bytes"`
	DupData        uint64 `json:"dup_media_data"`
	DupDataBytes   uint64 `json:"dup_media_data_bytes"`
	// The rest of NDN (sync, heartbeats, metadata, keys, keyframe
	// requests), other UDP (WebRTC's SRTP), and anything else.
	OtherNDNBytes uint64 `json:"other_ndn_bytes"`
	UDPBytes      uint64 `json:"non_ndn_udp_bytes"`
	OtherBytes    uint64 `json:"other_bytes"`
}

// Sub is c - o, field by field (o taken earlier from the same Counter).
func (c Counts) Sub(o Counts) Counts {
	return Counts{
		Packets: c.Packets - o.Packets, Bytes: c.Bytes - o.Bytes,
		Interests: c.Interests - o.Interests, InterestBytes: c.InterestBytes - o.InterestBytes,
		InterestRepeats: c.InterestRepeats - o.InterestRepeats, InterestRepeatBytes: c.InterestRepeatBytes - o.InterestRepeatBytes,
		MediaData: c.MediaData - o.MediaData, MediaDataBytes: c.MediaDataBytes - o.MediaDataBytes,
		DupData: c.DupData - o.DupData, DupDataBytes: c.DupDataBytes - o.DupDataBytes,
		OtherNDNBytes: c.OtherNDNBytes - o.OtherNDNBytes, UDPBytes: c.UDPBytes - o.UDPBytes, OtherBytes: c.OtherBytes - o.OtherBytes,
	}
}

// maxNames bounds the names a Counter remembers per kind (~30 minutes of
// a call's media packets); past it, it forgets them all and starts again.
const maxNames = 1 << 18

// Counter counts the packets of one direction of a link. Not safe for
// concurrent use (Tap serializes).
type Counter struct {
	p         parser
	c         Counts
	data, int map[string]struct{}
	streams   map[string]uint64 // media Data by stream id, repeats included
}

// NewCounter counts NDN on UDP port ndnPort.
func NewCounter(ndnPort uint16) *Counter {
	return &Counter{p: parser{port: ndnPort}, data: map[string]struct{}{}, int: map[string]struct{}{}, streams: map[string]uint64{}}
}

// Add counts one IPv4 packet (from its IP header on).
func (c *Counter) Add(ip []byte) Packet {
	pkt, key, first := c.p.classify(ip)
	n := uint64(pkt.Bytes)
	c.c.Packets++
	c.c.Bytes += n
	switch pkt.Kind {
	case KindInterest:
		pkt.Dup = c.named(pkt, c.int, &c.c.Interests, &c.c.InterestBytes, &c.c.InterestRepeats, &c.c.InterestRepeatBytes)
	case KindMediaData:
		pkt.Dup = c.named(pkt, c.data, &c.c.MediaData, &c.c.MediaDataBytes, &c.c.DupData, &c.c.DupDataBytes)
		if _, known := c.streams[pkt.Stream]; !pkt.Cont && (known || len(c.streams) < maxStreams) {
			c.streams[pkt.Stream]++
		}
	case KindNDN:
		c.c.OtherNDNBytes += n
	case KindUDP:
		c.c.UDPBytes += n
	default:
		c.c.OtherBytes += n
	}
	if first {
		c.p.remember(key, pkt)
	}
	return pkt
}

// named counts a media packet (its later fragments: their bytes only) and
// whether its name crossed before (set), and says so.
func (c *Counter) named(pkt Packet, set map[string]struct{}, count, bytes, again, againBytes *uint64) bool {
	dup := pkt.Dup
	if !pkt.Cont {
		*count++
		if dup = seen(set, pkt.Name); dup {
			*again++
		}
	}
	n := uint64(pkt.Bytes)
	*bytes += n
	if dup {
		*againBytes += n
	}
	return dup
}

// seen records name in set and says whether it was there.
func seen(set map[string]struct{}, name string) bool {
	if _, ok := set[name]; ok {
		return true
	}
	if len(set) >= maxNames {
		clear(set)
	}
	set[name] = struct{}{}
	return false
}

// Counts returns the counts so far.
func (c *Counter) Counts() Counts { return c.c }

// maxStreams bounds the stream ids a Counter counts apart (later new ones
// are not counted by stream).
const maxStreams = 256

// Streams returns, per media stream id (the name component after "media":
// audio, cam.h, ...), the media Data that crossed so far, the same packet
// again included: with the packets its publisher published, the copies of
// the stream the link carried.
func (c *Counter) Streams() map[string]uint64 {
	out := make(map[string]uint64, len(c.streams))
	for k, v := range c.streams {
		out[k] = v
	}
	return out
}
