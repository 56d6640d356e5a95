package proto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeSignalValid(t *testing.T) {
	cases := []string{
		`{"type":"ping"}`,
		`{"type":"ping","data":{"ts":12}}`,
		`{"type":"pong","data":null}`,
		`{"type":"text","data":{"text":"hello"}}`,
		`{"type":"get-room-info"}`,
		`{"type":"profile","data":{"name":"Alice"}}`,
		`{"type":"profile","data":{"audioMuted":true}}`,
		`{"type":"get-ice-servers"}`,
		`{"type":"offer","data":{"sdp":"v=0\r\n"}}`,
		`{"type":"answer","data":{"sdp":"v=0\r\n"}}`,
		`{"type":"candidate","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		`{"type":"candidate","data":{"candidate":"","sdpMid":null,"sdpMLineIndex":null}}`,
		`{"type":"bye"}`,
		`{"type":"bye","data":{"reason":"leaving"}}`,
		`{"type":"view","data":{"tiles":[]}}`,
		`{"type":"view","data":{"tiles":[{"id":"bob","height":360},{"id":"carol","height":0}]}}`,
		`{"type":"text","sender":"ignored","receiver":"bob","data":{"text":"psst"}}`,
	}
	for _, c := range cases {
		if _, err := DecodeSignal([]byte(c), FromPage, 0); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

func TestDecodeSignalInvalid(t *testing.T) {
	cases := []struct {
		in   string
		code string
	}{
		{``, CodeBadJSON},
		{`{`, CodeBadJSON},
		{`[]`, CodeBadJSON},
		{`"ping"`, CodeBadJSON},
		{`{"type":"ping"} {"type":"ping"}`, CodeBadJSON},
		{`{"type":"ping","extra":1}`, CodeBadJSON},
		{"{\"type\":\"text\",\"data\":{\"text\":\"\xff\"}}", CodeBadJSON},
		{`{}`, CodeUnknownType},
		{`{"type":""}`, CodeUnknownType},
		{`{"type":"launch-missiles"}`, CodeUnknownType},
		{`{"type":"greeting","data":{"id":"x","room":"r","role":"viewer","iceServers":[],"participants":[],"version":1,"polite":true}}`, CodeNotAllowed},
		{`{"type":"error","data":{"code":"x"}}`, CodeNotAllowed},
		{`{"type":"tracks","data":{"tracks":[]}}`, CodeNotAllowed},
		{`{"type":"text"}`, CodeBadData},
		{`{"type":"text","data":{"text":""}}`, CodeBadData},
		{`{"type":"text","data":{"text":5}}`, CodeBadData},
		{`{"type":"text","data":{"text":"a","color":"red"}}`, CodeBadData},
		{`{"type":"text","data":"hello"}`, CodeBadData},
		{`{"type":"get-room-info","data":{}}`, CodeBadData},
		{`{"type":"profile","data":{}}`, CodeBadData},
		{`{"type":"profile","data":{"name":""}}`, CodeBadData},
		{`{"type":"offer","data":{"sdp":""}}`, CodeBadData},
		{`{"type":"view","data":{"tiles":[{"id":"bob","height":-1}]}}`, CodeBadData},
		{`{"type":"view","data":{"tiles":[{"id":"bob","height":8193}]}}`, CodeBadData},
		{`{"type":"view","data":{"tiles":[{"id":"","height":10}]}}`, CodeBadData},
		{`{"type":"candidate","data":{"candidate":"x","sdpMLineIndex":-1}}`, CodeBadData},
		{`{"type":"text","data":{"text":"` + strings.Repeat("x", MaxChatText+1) + `"}}`, CodeBadData},
		{`{"type":"profile","data":{"name":"` + strings.Repeat("x", MaxNameLen+1) + `"}}`, CodeBadData},
		{`{"type":"ping","sender":"` + strings.Repeat("x", MaxIDLen+1) + `"}`, CodeBadData},
		{`{"type":"ping","data":{"ts":"` + strings.Repeat("x", MaxSignalSize) + `"}}`, CodeTooLarge},
	}
	for _, c := range cases {
		_, err := DecodeSignal([]byte(c.in), FromPage, 0)
		var se *SignalError
		if !errors.As(err, &se) {
			t.Errorf("%.80s: got %v, want a *SignalError", c.in, err)
			continue
		}
		if se.Code != c.code {
			t.Errorf("%.80s: code %q, want %q (%v)", c.in, se.Code, c.code, err)
		}
	}
}

func TestDecodeSignalFromServer(t *testing.T) {
	msgs := []Message{
		MustSignal(TypeGreeting, Greeting{Version: SignalVersion, ID: "alice", Room: "r", Role: RoleParticipant, Polite: true,
			Participants: []Participant{{ID: "alice", Name: "Alice", Role: RoleParticipant,
				Streams: []PageStream{{ID: "video", Kind: KindVideo, MimeType: "video/VP8"}}}}}),
		MustSignal(TypeRoomInfo, RoomInfo{Room: "r", Self: "alice", Participants: []Participant{{ID: "bob"}}}),
		MustSignal(TypeICEServers, ICEServers{ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}}),
		MustSignal(TypeJoin, Participant{ID: "bob", Name: "Bob"}),
		MustSignal(TypeUpdate, Participant{ID: "bob", Name: "Bobby", AudioMuted: true}),
		MustSignal(TypeLeave, Leave{ID: "bob"}),
		MustSignal(TypeTracks, Tracks{Tracks: []Track{{Mid: "2", StreamID: "bob", TrackID: "bob/video", Participant: "bob", Stream: "video", Kind: KindVideo}}}),
		ErrorSignal(CodeBadJSON, "oops", "text"),
		MustSignal(TypeText, Text{Text: "hi", Name: "Bob", Time: 1}),
		MustSignal(TypeBye, nil),
	}
	for _, m := range msgs {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSignal(b, FromServer, 0)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		if got.Type != m.Type {
			t.Errorf("type %q, want %q", got.Type, m.Type)
		}
	}
	// A page message type the server never sends.
	if _, err := DecodeSignal([]byte(`{"type":"get-room-info"}`), FromServer, 0); !errors.Is(err, ErrSignalNotAllowed) {
		t.Errorf("get-room-info from server: %v", err)
	}
}

func TestDataAs(t *testing.T) {
	m, err := DecodeSignal([]byte(`{"type":"profile","data":{"name":"Zoë","videoMuted":false}}`), FromPage, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DataAs[Profile](m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name == nil || *p.Name != "Zoë" || p.AudioMuted != nil || p.VideoMuted == nil || *p.VideoMuted {
		t.Errorf("got %+v", p)
	}
}

func TestSignalErrorPayload(t *testing.T) {
	_, err := DecodeSignal([]byte(`{"type":"`+strings.Repeat("é", 200)+`"}`), FromPage, 0)
	var se *SignalError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	p := se.Payload()
	if len(p.Ref) > MaxIDLen || !json.Valid(MustSignal(TypeError, p).Data) {
		t.Errorf("bad payload %+v", p)
	}
}

// FuzzDecodeSignal checks that the decoder never panics, that every error is
// a *SignalError with a code, and that what it accepts re-encodes to a
// message it accepts again.
func FuzzDecodeSignal(f *testing.F) {
	seeds := []string{
		`{"type":"ping","data":{"ts":1}}`,
		`{"type":"text","data":{"text":"hi"}}`,
		`{"type":"profile","data":{"name":"A","audioMuted":true}}`,
		`{"type":"offer","data":{"sdp":"v=0"}}`,
		`{"type":"candidate","data":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"bye"}`,
		`{"type":"greeting","data":{}}`,
		`{"type":"tracks","data":{"tracks":[{"mid":"1"}]}}`,
		`{"type":"text","data":{"text":"a"},"data":{"text":"b"}}`,
		`null`, `{}`, `[`, "\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, fromPage bool) {
		dir := FromServer
		if fromPage {
			dir = FromPage
		}
		m, err := DecodeSignal(b, dir, 4096)
		if err != nil {
			var se *SignalError
			if !errors.As(err, &se) || se.Code == "" {
				t.Fatalf("error %v is not a coded *SignalError", err)
			}
			_ = se.Payload()
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := DecodeSignal(enc, dir, 0)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if m2.Type != m.Type || m2.Sender != m.Sender || m2.Receiver != m.Receiver {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}
