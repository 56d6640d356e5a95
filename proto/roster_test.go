package proto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
)

func validEntry() RosterEntry {
	return RosterEntry{
		User:   "alice",
		Name:   "Alice A.",
		Prefix: "/peets/user/alice",
		Role:   RoleParticipant,
		Streams: []RosterStream{
			{ID: "cam", Kind: KindVideo, Codec: "video/VP8", ClockRate: 90000, LatestSeq: 10, KeyframeSeq: 7, Boot: 1700000000},
			{ID: "mic", Kind: KindAudio, Codec: "audio/opus", ClockRate: 48000, LatestSeq: 3, Boot: 1700000000, AudioLevel: 1},
		},
		Description: json.RawMessage(`{"org":"UCLA","floor":3}`),
		IntervalMs:  1000,
	}
}

func TestRosterEntryRoundTrip(t *testing.T) {
	e := validEntry()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRosterEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.Encode()
	if string(b) != string(b2) {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
	p := ParticipantPrefix(DefaultUserPrefix("alice"), "room1")
	if err := got.CheckOwner(p, "room1"); err != nil {
		t.Fatal(err)
	}
	other := ParticipantPrefix(DefaultUserPrefix("mallory"), "room1")
	if err := got.CheckOwner(other, "room1"); !errors.Is(err, ErrPubField) {
		t.Fatalf("owner mismatch: %v", err)
	}
	if err := got.CheckOwner(p, "room2"); !errors.Is(err, ErrPubField) {
		t.Fatalf("room mismatch: %v", err)
	}
}

// TestRosterEntryFields: the mute flags round-trip, and a field a newer
// member adds is ignored, not an error.
func TestRosterEntryFields(t *testing.T) {
	e := validEntry()
	e.AudioMuted, e.VideoMuted = true, true
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"audio_muted":true`) || !strings.Contains(string(b), `"video_muted":true`) {
		t.Fatalf("mute flags not encoded: %s", b)
	}
	got, err := DecodeRosterEntry(b)
	if err != nil || !got.AudioMuted || !got.VideoMuted {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	newer := strings.Replace(string(b), `{`, `{"hand_raised":true,`, 1)
	if _, err := DecodeRosterEntry([]byte(newer)); err != nil {
		t.Fatalf("an unknown field refused: %v", err)
	}
}

func TestRosterEntryRejects(t *testing.T) {
	cases := map[string]func(*RosterEntry){
		"bad user":         func(e *RosterEntry) { e.User = "a/b" },
		"empty name":       func(e *RosterEntry) { e.Name = "" },
		"long name":        func(e *RosterEntry) { e.Name = strings.Repeat("x", 65) },
		"control in name":  func(e *RosterEntry) { e.Name = "a\x01b" },
		"bad prefix":       func(e *RosterEntry) { e.Prefix = "" },
		"bad role":         func(e *RosterEntry) { e.Role = "admin" },
		"stream kind":      func(e *RosterEntry) { e.Streams[0].Kind = "text" },
		"codec/kind":       func(e *RosterEntry) { e.Streams[0].Codec = "audio/opus" },
		"codec syntax":     func(e *RosterEntry) { e.Streams[0].Codec = "VP8" },
		"clock rate":       func(e *RosterEntry) { e.Streams[0].ClockRate = 0 },
		"keyframe>latest":  func(e *RosterEntry) { e.Streams[0].KeyframeSeq = 11 },
		"dup stream":       func(e *RosterEntry) { e.Streams[1].ID = "cam" },
		"stream id":        func(e *RosterEntry) { e.Streams[0].ID = "" },
		"description list": func(e *RosterEntry) { e.Description = json.RawMessage(`[1,2]`) },
		"description big": func(e *RosterEntry) {
			e.Description = json.RawMessage(`{"x":"` + strings.Repeat("y", MaxDescriptionSize) + `"}`)
		},
		"interval":          func(e *RosterEntry) { e.IntervalMs = 1 },
		"audio level id":    func(e *RosterEntry) { e.Streams[1].AudioLevel = 15 },
		"audio level video": func(e *RosterEntry) { e.Streams[0].AudioLevel = 1 },
		"too many streams": func(e *RosterEntry) {
			for i := range MaxRosterStreams {
				e.Streams = append(e.Streams, RosterStream{ID: "s" + string(rune('a'+i)), Kind: KindAudio, Codec: "audio/opus", ClockRate: 48000})
			}
		},
	}
	for name, mod := range cases {
		e := validEntry()
		mod(&e)
		if _, err := e.Encode(); !errors.Is(err, ErrPubField) {
			t.Errorf("%s: encode: %v", name, err)
		}
	}
	bad := map[string]error{
		`{"user": 5}`:                     ErrPubField,
		`{"user":"a","streams":{}}`:       ErrPubField,
		`{"user":"a"`:                     ErrPubMalformed,
		`[]`:                              ErrPubField,
		"\xff":                            ErrPubMalformed,
		`{"user":"a"} trailing`:           ErrPubMalformed,
		strings.Repeat(" ", MaxPubSize+1): ErrPubTooLarge,
		`{"user":"alice","name":"A","prefix":"/p","role":"viewer","streams":[],"interval_ms":1000,"leave":"yes"}`: ErrPubField,
	}
	for in, want := range bad {
		if _, err := DecodeRosterEntry([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%.40q: got %v, want %v", in, err, want)
		}
	}
}

func TestPublicationRoundTrip(t *testing.T) {
	p := Publication{V: 1, Kind: PubKindChat, Boot: 1700000000, Seq: 42, Time: 1700000000123, Ord: true, Prev: 40, Soft: 41,
		Body: json.RawMessage(`{"text":"<hi> & \"bye\""}`)}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\u003c`) {
		t.Fatalf("HTML-escaped: %s", b)
	}
	got, err := DecodePublication(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 42 || got.Prev != 40 || got.Soft != 41 || !got.Ord || got.Kind != "chat" || string(got.Body) != string(p.Body) {
		t.Fatalf("got %+v", got)
	}
	bad := map[string]error{
		`{"v":2,"kind":"hb","boot":1,"seq":1,"time":1,"body":{}}`:           ErrPubVersion,
		`{"v":1,"kind":"HB","boot":1,"seq":1,"time":1,"body":{}}`:           ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":0,"time":1,"body":{}}`:           ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"prev":3,"time":1,"body":{}}`:  ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"soft":4,"time":1,"body":{}}`:  ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"time":1,"body":"x"}`:          ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"time":1}`:                     ErrPubField,
		`{"v":1,"kind":"hb","boot":-1,"seq":3,"time":1,"body":{}}`:          ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"time":-5,"body":{}}`:          ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"time":1,"body":{}`:            ErrPubMalformed,
		`{"v":"1","kind":"hb","boot":1,"seq":3,"time":1,"body":{}}`:         ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":1e30,"time":1,"body":{}}`:        ErrPubField,
		`{"v":1,"kind":"hb","boot":1,"seq":3,"time":1,"body":{},"x":[1,2]}`: nil,
	}
	for in, want := range bad {
		_, err := DecodePublication([]byte(in))
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", in, err, want)
		}
	}
	big := Publication{V: 1, Kind: "hb", Boot: 1, Seq: 1, Body: json.RawMessage(`{"x":"` + strings.Repeat("y", MaxPubSize) + `"}`)}
	if _, err := big.Encode(); !errors.Is(err, ErrPubTooLarge) {
		t.Fatalf("big: %v", err)
	}
}

func TestSyncPubName(t *testing.T) {
	p := ParticipantPrefix(DefaultUserPrefix("bob"), "r")
	n := SyncPubName(p, 1700000000, 9)
	if n.String() != "/peets/user/bob/r/sync/t=1700000000/seq=9" {
		t.Fatalf("name %s", n)
	}
	boot, seq, err := ParseSyncPubName(p, n)
	if err != nil || boot != 1700000000 || seq != 9 {
		t.Fatalf("parse: %d %d %v", boot, seq, err)
	}
	for _, s := range []string{"/peets/user/bob/r/sync", "/peets/user/bob/r/sync/t=1/seq=2/x",
		"/peets/user/bob/r/sync/1/seq=2", "/peets/user/bob/r/sync/t=1/2", "/peets/user/eve/r/sync/t=1/seq=2"} {
		nm, _ := enc.NameFromStr(s)
		if _, _, err := ParseSyncPubName(p, nm); err == nil {
			t.Errorf("%s parsed", s)
		}
	}
	// Numbers of 3 bytes are not NonNegativeIntegers.
	bad := SyncPubPrefix(p).Append(enc.Component{Typ: enc.TypeTimestampNameComponent, Val: []byte{1, 2, 3}},
		enc.NewSequenceNumComponent(2))
	if _, _, err := ParseSyncPubName(p, bad); err == nil {
		t.Errorf("%s parsed", bad)
	}
	bad = SyncPubPrefix(p).Append(enc.NewTimestampComponent(1),
		enc.Component{Typ: enc.TypeSequenceNumNameComponent, Val: []byte{0, 0, 9}})
	if _, _, err := ParseSyncPubName(p, bad); err == nil {
		t.Errorf("%s parsed", bad)
	}
}

func TestChat(t *testing.T) {
	m := ChatMessage{Text: "hello\nworld\t!"}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeChat(b)
	if err != nil || got.Text != m.Text {
		t.Fatalf("%v %v", got, err)
	}
	for _, s := range []string{"", strings.Repeat("x", MaxChatText+1), "bell\a", "\xff"} {
		m := ChatMessage{Text: s}
		if _, err := m.Encode(); !errors.Is(err, ErrPubField) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := DecodeChat([]byte(`{"text":1}`)); !errors.Is(err, ErrPubField) {
		t.Fatal(err)
	}
	if _, err := DecodeChat([]byte(`{"text":"\u0000"}`)); !errors.Is(err, ErrPubField) {
		t.Fatal(err)
	}
}

// The decoders never panic, and what they accept re-encodes and decodes to
// the same value.
func FuzzDecodePublication(f *testing.F) {
	e := validEntry()
	body, _ := e.Encode()
	p := Publication{V: 1, Kind: "hb", Boot: 1, Seq: 2, Time: 3, Prev: 1, Body: body}
	b, _ := p.Encode()
	f.Add(b)
	f.Add([]byte(`{"v":1,"kind":"chat","boot":1,"seq":3,"time":1,"ord":true,"body":{"text":"x"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePublication(data)
		if err != nil {
			if !errors.Is(err, ErrPubTooLarge) && !errors.Is(err, ErrPubMalformed) &&
				!errors.Is(err, ErrPubField) && !errors.Is(err, ErrPubVersion) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		b, err := p.Encode()
		if err != nil {
			if errors.Is(err, ErrPubTooLarge) {
				return // compaction can only shrink, but escaping may grow
			}
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodePublication(b); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeRosterEntry(f *testing.F) {
	e := validEntry()
	b, _ := e.Encode()
	f.Add(b)
	f.Add([]byte(`{"user":"a","name":"b","prefix":"/a","role":"viewer","streams":null,"interval_ms":50}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeRosterEntry(data)
		if err != nil {
			if !errors.Is(err, ErrPubTooLarge) && !errors.Is(err, ErrPubMalformed) && !errors.Is(err, ErrPubField) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeRosterEntry(b); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		_ = e.CheckOwner(enc.Name{}, "r")
	})
}

func FuzzDecodeChat(f *testing.F) {
	f.Add([]byte(`{"text":"hi"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeChat(data)
		if err != nil {
			return
		}
		if _, err := m.Encode(); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
