package roster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/proto"
	roomsync "github.com/peets/peets/sync"
	"github.com/peets/peets/sync/synctest"
)

func hbPub(t *testing.T, user, room string, seq uint64, mod func(*proto.RosterEntry)) roomsync.Pub {
	t.Helper()
	e := proto.RosterEntry{User: user, Name: user, Prefix: proto.DefaultUserPrefix(user).String(),
		Role: proto.RoleParticipant, IntervalMs: 100}
	if mod != nil {
		mod(&e)
	}
	b, _ := json.Marshal(e)
	return roomsync.Pub{
		Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix(user), room),
		Boot:      1, Seq: seq, Kind: proto.PubKindHeartbeat, Sent: time.Now(), Received: time.Now(), Body: b,
	}
}

func TestTableSoftState(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	defer tab.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := tab.Subscribe(ctx)

	tab.apply(hbPub(t, "alice", "r", 1, nil))
	tab.apply(hbPub(t, "alice", "r", 2, nil))                                             // no profile change: no event
	tab.apply(hbPub(t, "alice", "r", 3, func(e *proto.RosterEntry) { e.Name = "Alice" })) // update
	tab.apply(hbPub(t, "alice", "r", 2, func(e *proto.RosterEntry) { e.Name = "Old" }))   // older: ignored
	tab.apply(hbPub(t, "bob", "r", 1, nil))                                               // join
	tab.apply(hbPub(t, "bob", "r", 2, func(e *proto.RosterEntry) { e.Leave = true }))     // bye
	tab.apply(hbPub(t, "carol", "r", 1, func(e *proto.RosterEntry) { e.Leave = true }))   // bye of a stranger: nothing
	want := []struct {
		typ  EventType
		user string
	}{{EventJoin, "alice"}, {EventUpdate, "alice"}, {EventJoin, "bob"}, {EventLeave, "bob"}, {EventLeave, "alice"}}
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w.typ || ev.Member.User != w.user {
				t.Fatalf("event %d: %s %s, want %s %s", i, ev.Type, ev.Member.User, w.typ, w.user)
			}
			if ev.Type == EventLeave && w.user == "alice" && ev.Reason != LeaveExpired {
				t.Fatalf("alice left by %s", ev.Reason)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("event %d missing", i)
		}
	}
	st := tab.Stats()
	if st.Joins != 2 || st.Updates != 1 || st.Byes != 1 || st.Expired != 1 || st.Members != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTableRejectsBadInput(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	defer tab.close()
	bad := []roomsync.Pub{
		{Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix("x"), "r"), Kind: proto.PubKindHeartbeat, Body: []byte(`{"user":1}`)},
		{Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix("x"), "r"), Kind: proto.PubKindHeartbeat, Body: []byte(`{`)},
		{Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix("x"), "r"), Kind: proto.PubKindHeartbeat, Body: []byte(`{"user":"x","name":"` + strings.Repeat("n", 100) + `"}`)},
		{Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix("x"), "r"), Kind: proto.PubKindChat, Body: []byte(`{"text":""}`)},
		{Publisher: proto.ParticipantPrefix(proto.DefaultUserPrefix("x"), "r"), Kind: "zzz", Body: []byte(`{}`)},
		hbPub(t, "alice", "r", 1, func(e *proto.RosterEntry) { e.Prefix = "/peets/user/mallory" }), // about someone else
		hbPub(t, "alice", "other", 1, nil), // another room
	}
	for _, p := range bad {
		tab.apply(p)
	}
	st := tab.Stats()
	if st.Members != 0 || st.Rejected[ReasonBadEntry] != 3 || st.Rejected[ReasonBadChat] != 1 ||
		st.Rejected[ReasonUnknownKind] != 1 || st.Rejected[ReasonEntryMismatch] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRenderJSON(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ms := []Member{{
		User: "alice", Name: "Alice", Prefix: proto.DefaultUserPrefix("alice"), Role: proto.RoleBroadcaster,
		LastHeartbeat: now.Add(-250 * time.Millisecond), Interval: time.Second,
		Streams: []proto.RosterStream{{ID: "cam", Kind: "video", Codec: "video/VP8", ClockRate: 90000, LatestSeq: 5, KeyframeSeq: 1, Boot: 9}},
	}, {
		User: "bob", Name: "Bob", Prefix: proto.DefaultUserPrefix("bob"), Role: proto.RoleViewer,
		LastHeartbeat: now.Add(-2 * time.Second), Interval: time.Second,
	}}
	b, err := RenderJSON("r1", ms, now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"room":"r1","members":[` +
		`{"user":"alice","name":"Alice","prefix":"/peets/user/alice","role":"broadcaster","streams":[{"id":"cam","kind":"video","codec":"video/VP8","clock_rate":90000,"latest_seq":5,"keyframe_seq":1,"boot":9}],"heartbeat_age_ms":250,"state":"active"},` +
		`{"user":"bob","name":"Bob","prefix":"/peets/user/bob","role":"viewer","streams":[],"heartbeat_age_ms":2000,"state":"stale"}]}`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	var sb strings.Builder
	if err := WriteText(&sb, "r1", ms, now); err != nil || !strings.Contains(sb.String(), "cam(video/VP8)") {
		t.Fatalf("text: %v\n%s", err, sb.String())
	}
	ms[0].VideoMuted = true // camera off: the JSON and the table say so
	if b, _ := RenderJSON("r1", ms[:1], now); !strings.Contains(string(b), `"video_muted":true`) {
		t.Fatalf("muted camera not in the JSON: %s", b)
	}
	sb.Reset()
	if err := WriteText(&sb, "r1", ms, now); err != nil || !strings.Contains(sb.String(), "cam(video/VP8 off)") {
		t.Fatalf("text: %v\n%s", err, sb.String())
	}
	ev, _ := json.Marshal(Event{Type: EventLeave, Time: now, Member: ms[1], Reason: LeaveExpired})
	if !strings.Contains(string(ev), `"type":"leave"`) || !strings.Contains(string(ev), `"reason":"expired"`) {
		t.Fatalf("event JSON %s", ev)
	}
}

// TestTableRejoinAndReplay: a member back after its bye (same boot, higher
// seq) joins again; heartbeats and byes from before its departure, replayed
// or late, change nothing and are counted as stale.
func TestTableRejoinAndReplay(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	defer tab.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := tab.Subscribe(ctx)
	bye := func(e *proto.RosterEntry) { e.Leave = true }
	alice := proto.ParticipantPrefix(proto.DefaultUserPrefix("alice"), "r")
	listed := func() bool { _, ok := tab.Get(alice); return ok }

	tab.apply(hbPub(t, "alice", "r", 1, nil))
	tab.apply(hbPub(t, "alice", "r", 2, nil))
	tab.apply(hbPub(t, "alice", "r", 3, bye)) // away
	if listed() {
		t.Fatal("listed after bye")
	}
	tab.apply(hbPub(t, "alice", "r", 2, nil)) // replay from before the bye
	tab.apply(hbPub(t, "alice", "r", 3, nil)) // same seq as the bye
	if listed() {
		t.Fatal("stale heartbeat took alice back")
	}
	tab.apply(hbPub(t, "alice", "r", 4, nil)) // back
	if !listed() {
		t.Fatal("not back after a newer heartbeat")
	}
	tab.apply(hbPub(t, "alice", "r", 3, bye)) // the old bye, replayed
	if !listed() {
		t.Fatal("replayed bye dropped alice")
	}
	tab.apply(hbPub(t, "alice", "r", 5, bye)) // away again
	p := hbPub(t, "alice", "r", 1, nil)       // a new boot starts at seq 1
	p.Boot = 2
	tab.apply(p)
	if m, ok := tab.Get(alice); !ok || m.Boot != 2 {
		t.Fatal("new boot not taken")
	}
	old := hbPub(t, "alice", "r", 9, nil) // the old boot, higher seq
	tab.apply(old)
	if m, _ := tab.Get(alice); m.Boot != 2 || m.Seq != 1 {
		t.Fatalf("old boot taken: %+v", m)
	}
	want := []EventType{EventJoin, EventLeave, EventJoin, EventLeave, EventJoin}
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w {
				t.Fatalf("event %d: %s, want %s", i, ev.Type, w)
			}
			if ev.Type == EventLeave && ev.Reason != LeaveBye {
				t.Fatalf("event %d: reason %s", i, ev.Reason)
			}
		case <-time.After(time.Second):
			t.Fatalf("event %d missing", i)
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("extra event %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
	st := tab.Stats()
	if st.Joins != 3 || st.Byes != 2 || st.Rejected[ReasonStale] != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTableReplayAfterExpiry: a heartbeat that is not newer than the last
// one of an expired member does not bring it back.
func TestTableReplayAfterExpiry(t *testing.T) {
	tab := newTable("r", 1, synctest.Logger) // IntervalMs 100: expires after 100 ms
	defer tab.close()
	alice := proto.ParticipantPrefix(proto.DefaultUserPrefix("alice"), "r")
	tab.apply(hbPub(t, "alice", "r", 7, nil))
	if synctest.Eventually(time.Second, func() bool { return tab.Len() == 0 }) < 0 {
		t.Fatal("no expiry")
	}
	tab.apply(hbPub(t, "alice", "r", 7, nil))
	if _, ok := tab.Get(alice); ok {
		t.Fatal("replayed heartbeat took an expired member back")
	}
	tab.apply(hbPub(t, "alice", "r", 8, nil))
	if _, ok := tab.Get(alice); !ok {
		t.Fatal("newer heartbeat refused")
	}
}

// TestTableUserIDTaken: a user id names one participant at a time. A second
// participant prefix claiming a live member's id, or the table's own id, is
// rejected and counted; once the holder is gone the id is free again.
func TestTableUserIDTaken(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	tab.self = "me"
	defer tab.close()
	claim := func(user, prefix string, seq uint64, leave bool) roomsync.Pub {
		p := hbPub(t, user, "r", seq, func(e *proto.RosterEntry) { e.Prefix, e.Leave = prefix, leave })
		p.Publisher = proto.ParticipantPrefix(synctest.Name(t, prefix), "r")
		return p
	}
	tab.apply(claim("alice", "/peets/user/alice", 1, false))
	tab.apply(claim("alice", "/ndn/x/mallory", 1, false)) // taken: alice is live
	tab.apply(claim("me", "/ndn/x/mallory", 2, false))    // the table's own id
	tab.apply(claim("bob", "/ndn/x/mallory", 3, false))   // a free id: joins
	tab.apply(claim("alice", "/ndn/x/mallory", 4, false)) // renaming itself to a taken id
	if st := tab.Stats(); st.Members != 2 || st.Rejected[ReasonUserTaken] != 3 {
		t.Fatalf("stats %+v", st)
	}
	if m, ok := tab.Get(proto.ParticipantPrefix(synctest.Name(t, "/ndn/x/mallory"), "r")); !ok || m.User != "bob" {
		t.Fatalf("mallory's entry %+v %v, want still bob", m, ok)
	}
	tab.apply(claim("alice", "/peets/user/alice", 2, true)) // alice leaves: her id is free
	tab.apply(claim("alice", "/ndn/x/mallory", 5, false))
	if m, _ := tab.Get(proto.ParticipantPrefix(synctest.Name(t, "/ndn/x/mallory"), "r")); m.User != "alice" {
		t.Fatalf("after alice left, mallory's entry is %q, want alice", m.User)
	}
}

// TestTableBindUsers: in a room with an anchor, a member's user id is the
// one its certified prefix ends in: a claim of another id is rejected and
// counted, whatever id it is; the prefix's own id is accepted.
func TestTableBindUsers(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	tab.self = "me"
	tab.bindUsers = true
	defer tab.close()
	claim := func(user, prefix string, seq uint64) roomsync.Pub {
		p := hbPub(t, user, "r", seq, func(e *proto.RosterEntry) { e.Prefix = prefix })
		p.Publisher = proto.ParticipantPrefix(synctest.Name(t, prefix), "r")
		return p
	}
	tab.apply(claim("alice", "/ndn/x/mallory", 1)) // a free id, not its prefix's
	tab.apply(claim("bob", "/ndn/x/mallory", 2))
	tab.apply(claim("mallory", "/ndn/x/mallory", 3))
	tab.apply(claim("alice", "/ndn/edu/ucla/alice", 1))
	st := tab.Stats()
	if st.Members != 2 || st.Rejected[ReasonNotUsersPrefix] != 2 {
		t.Fatalf("stats %+v", st)
	}
	if m, ok := tab.Get(proto.ParticipantPrefix(synctest.Name(t, "/ndn/x/mallory"), "r")); !ok || m.User != "mallory" {
		t.Fatalf("mallory's entry %+v %v", m, ok)
	}
}

// TestTableUserTakenEvents: a refused claimant of a user id is an event
// (with the holder's prefix) once per claim, again after it stopped
// claiming for an expiry time, and for every new subscriber while it
// claims; the table remembers a bounded number of claimants.
func TestTableUserTakenEvents(t *testing.T) {
	tab := newTable("r", 3, synctest.Logger)
	me := proto.ParticipantPrefix(proto.DefaultUserPrefix("me"), "r")
	tab.self, tab.selfP = "me", me
	defer tab.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := tab.Subscribe(ctx)
	next := func() Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(2 * time.Second):
			t.Fatal("event missing")
			return Event{}
		}
	}
	noMore := func() {
		t.Helper()
		select {
		case ev := <-events:
			t.Fatalf("unexpected event %s %s", ev.Type, ev.Member.User)
		case <-time.After(50 * time.Millisecond):
		}
	}
	base := time.Now()
	claim := func(user, prefix string, seq uint64, at time.Duration) {
		p := hbPub(t, user, "r", seq, func(e *proto.RosterEntry) { e.Prefix = prefix; e.IntervalMs = 1000 })
		p.Publisher = proto.ParticipantPrefix(synctest.Name(t, prefix), "r")
		p.Received = base.Add(at)
		tab.apply(p)
	}
	twin := proto.ParticipantPrefix(synctest.Name(t, "/ndn/x/twin"), "r")
	claim("me", "/ndn/x/twin", 1, 0)
	if ev := next(); ev.Type != EventUserTaken || ev.Member.User != "me" || !ev.Member.Participant.Equal(twin) || !ev.Holder.Equal(me) {
		t.Fatalf("event %+v", ev)
	}
	claim("me", "/ndn/x/twin", 2, time.Second) // the same claim goes on: no news
	noMore()

	claim("alice", "/peets/user/alice", 1, 0)
	if ev := next(); ev.Type != EventJoin || ev.Member.User != "alice" {
		t.Fatalf("event %+v", ev)
	}
	alice := proto.ParticipantPrefix(proto.DefaultUserPrefix("alice"), "r")
	claim("alice", "/ndn/x/mallory", 1, 0)
	if ev := next(); ev.Type != EventUserTaken || ev.Member.User != "alice" || !ev.Holder.Equal(alice) {
		t.Fatalf("event %+v", ev)
	}
	b, err := json.Marshal(Event{Type: EventUserTaken, Time: base, Member: Member{User: "alice"}, Holder: alice})
	if err != nil || !strings.Contains(string(b), `"holder":"/peets/user/alice/r"`) {
		t.Fatalf("JSON %s %v", b, err)
	}

	// A page that opens now learns of both claims.
	late := tab.Subscribe(ctx)
	taken := map[string]bool{}
	for range 3 {
		select {
		case ev := <-late:
			if ev.Type == EventUserTaken {
				taken[ev.Member.User] = true
			}
		case <-time.After(2 * time.Second):
			t.Fatal("late subscriber: event missing")
		}
	}
	if !taken["me"] || !taken["alice"] {
		t.Fatalf("late subscriber saw claims %v", taken)
	}

	// The twin stopped claiming for longer than 3 of its intervals: a new
	// claim is news again.
	claim("me", "/ndn/x/twin", 3, 5*time.Second)
	if ev := next(); ev.Type != EventUserTaken || !ev.Member.Participant.Equal(twin) {
		t.Fatalf("event %+v", ev)
	}

	for i := range 2 * maxClaims {
		claim("me", fmt.Sprintf("/ndn/x/many%d", i), 1, 0)
	}
	tab.mu.Lock()
	n := len(tab.claims)
	tab.mu.Unlock()
	if n > maxClaims {
		t.Fatalf("%d claims remembered, max %d", n, maxClaims)
	}
	if st := tab.Stats(); st.Rejected[ReasonUserTaken] != 4+2*maxClaims {
		t.Fatalf("user_taken = %d, want %d", st.Rejected[ReasonUserTaken], 4+2*maxClaims)
	}
}

// TestTableAliveByMedia: a member whose heartbeats stop while its verified
// media still arrive (Alive) stays; once the media stop too, it expires.
// An unknown member is not made one.
func TestTableAliveByMedia(t *testing.T) {
	tab := newTable("r", 2, synctest.Logger) // IntervalMs 100: expires after 200 ms
	defer tab.close()
	alice := proto.ParticipantPrefix(proto.DefaultUserPrefix("alice"), "r")
	bob := proto.ParticipantPrefix(proto.DefaultUserPrefix("bob"), "r")
	tab.apply(hbPub(t, "alice", "r", 1, nil))
	if tab.Alive(bob, time.Now()) {
		t.Fatal("an unknown member is alive")
	}
	// 1 s of media, no heartbeat: five expiry times.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !tab.Alive(alice, time.Now()) {
			t.Fatal("alice expired while her media arrived")
		}
	}
	if st := tab.Stats(); st.KeptByMedia == 0 || st.Expired != 0 {
		t.Fatalf("stats %+v", st)
	}
	if m, ok := tab.Get(alice); !ok || m.State != StateStale {
		t.Fatalf("alice %+v %v: want a stale member", m, ok)
	}
	if synctest.Eventually(2*time.Second, func() bool { return tab.Len() == 0 }) < 0 {
		t.Fatal("no expiry once the media stopped")
	}
	if tab.Alive(alice, time.Now()) || tab.Len() != 0 {
		t.Fatal("media brought an expired member back")
	}
}
