package roster

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/proto"
)

// State is a member's liveness as seen locally.
type State string

// States.
const (
	StateActive State = "active" // heard within 1.5 of its intervals
	StateStale  State = "stale"  // a heartbeat is overdue; expires after ExpireAfter intervals
	StateSelf   State = "self"   // this participant itself (Participant.Snapshot only)
)

// Member is one participant of the room, from its latest heartbeat.
type Member struct {
	User          string               // user id
	Name          string               // display name
	Prefix        enc.Name             // user prefix U
	Participant   enc.Name             // P = U/<room>: its media, keys and publications are under it
	Role          string               // proto.Role*
	Streams       []proto.RosterStream // as of the latest heartbeat
	Description   json.RawMessage      // JSON object from the member's daemon config, or nil
	AudioMuted    bool                 // microphone turned off
	VideoMuted    bool                 // camera turned off
	UplinkLimited bool                 // its own uplink limits what others pull of it (it pulls within a budget)
	KeyEpoch      uint64               // newest media key epoch it holds
	Boot          uint64               // the member's boot (s)
	Seq           uint64               // seq of the latest heartbeat
	Sent          time.Time            // latest heartbeat, sender's clock
	LastHeartbeat time.Time            // latest heartbeat, local clock
	Joined        time.Time            // local clock
	Interval      time.Duration        // the member's heartbeat interval
	State         State
	Self          bool
}

// Key is the member's table key: its participant prefix.
func (m *Member) Key() string { return m.Participant.String() }

// state computes the liveness at now.
func (m *Member) state(now time.Time) State {
	if m.Self {
		return StateSelf
	}
	if now.Sub(m.LastHeartbeat) > m.Interval*3/2 {
		return StateStale
	}
	return StateActive
}

// clone deep-copies the slices, so snapshots never alias the table.
func (m Member) clone() Member {
	m.Streams = slices.Clone(m.Streams)
	m.Description = slices.Clone(m.Description)
	return m
}

// profileChanged reports whether b differs from a in what subscribers act
// on (everything but heartbeat timing and the streams' moving seqs).
func profileChanged(a, b *Member) bool {
	if a.Name != b.Name || a.Role != b.Role || a.Boot != b.Boot || a.Interval != b.Interval ||
		a.AudioMuted != b.AudioMuted || a.VideoMuted != b.VideoMuted || a.KeyEpoch != b.KeyEpoch ||
		string(a.Description) != string(b.Description) || len(a.Streams) != len(b.Streams) {
		return true
	}
	for i := range a.Streams {
		x, y := a.Streams[i], b.Streams[i]
		if x.ID != y.ID || x.Kind != y.Kind || x.Codec != y.Codec || x.ClockRate != y.ClockRate || x.Boot != y.Boot {
			return true
		}
	}
	return false
}

// sortMembers orders members by user id, then participant prefix.
func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Participant.String(), b.Participant.String())
	})
}

// MemberJSON is the JSON form of a member in GET /api/roster and
// `peets roster --json`.
type MemberJSON struct {
	User           string               `json:"user"`
	Name           string               `json:"name"`
	Prefix         string               `json:"prefix"`
	Role           string               `json:"role"`
	Streams        []proto.RosterStream `json:"streams"`
	AudioMuted     bool                 `json:"audio_muted,omitempty"`
	VideoMuted     bool                 `json:"video_muted,omitempty"`
	UplinkLimited  bool                 `json:"uplink_limited,omitempty"`
	HeartbeatAgeMs int64                `json:"heartbeat_age_ms"` // ms since the latest heartbeat arrived (0: this participant)
	State          State                `json:"state"`
}

// RosterJSON is the JSON form of a roster.
type RosterJSON struct {
	Room    string       `json:"room"`
	Members []MemberJSON `json:"members"`
	// Refused counts what the observer refused while it listened, by
	// reason (Stats.Refusals): `peets roster --json` only.
	Refused map[string]uint64 `json:"refused,omitempty"`
}

// JSON converts m, with its heartbeat age at now.
func (m *Member) JSON(now time.Time) MemberJSON {
	streams := m.Streams
	if streams == nil {
		streams = []proto.RosterStream{}
	}
	age := int64(0)
	if !m.Self {
		age = max(0, now.Sub(m.LastHeartbeat).Milliseconds())
	}
	return MemberJSON{
		User:           m.User,
		Name:           m.Name,
		Prefix:         m.Prefix.String(),
		Role:           m.Role,
		Streams:        streams,
		AudioMuted:     m.AudioMuted,
		VideoMuted:     m.VideoMuted,
		UplinkLimited:  m.UplinkLimited,
		HeartbeatAgeMs: age,
		State:          m.state(now),
	}
}

// Render builds the JSON form of a roster:
//
//	{"room": ..., "members": [{"user", "name", "prefix", "role", "streams",
//	"heartbeat_age_ms", "state"}, ...]}
func Render(room string, members []Member, now time.Time) RosterJSON {
	r := RosterJSON{Room: room, Members: make([]MemberJSON, 0, len(members))}
	for i := range members {
		r.Members = append(r.Members, members[i].JSON(now))
	}
	return r
}

// RenderJSON is Render, marshalled.
func RenderJSON(room string, members []Member, now time.Time) ([]byte, error) {
	return json.Marshal(Render(room, members, now))
}

// WriteText prints a roster as a table, for `peets roster` without --json.
func WriteText(w io.Writer, room string, members []Member, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "room %s: %d member(s)\n", room, len(members))
	fmt.Fprintln(tw, "USER\tNAME\tROLE\tSTATE\tLAST HB\tPREFIX\tSTREAMS")
	for i := range members {
		j := members[i].JSON(now)
		var ss []string
		for _, st := range j.Streams {
			off := ""
			if (st.Kind == proto.KindAudio && j.AudioMuted) || (st.Kind == proto.KindVideo && j.VideoMuted) {
				off = " off" // muted mic / camera turned off
			}
			ss = append(ss, fmt.Sprintf("%s(%s%s)", st.ID, st.Codec, off))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%dms\t%s\t%s\n",
			j.User, j.Name, j.Role, j.State, j.HeartbeatAgeMs, j.Prefix, strings.Join(ss, ","))
	}
	return tw.Flush()
}
