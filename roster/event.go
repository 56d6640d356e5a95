package roster

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// EventType tells what happened.
type EventType string

// Event types.
const (
	EventJoin   EventType = "join"   // a member's first valid heartbeat
	EventUpdate EventType = "update" // its profile changed (name, role, description, boot, stream set)
	EventLeave  EventType = "leave"  // it said bye, or expired
	EventChat   EventType = "chat"   // a room text message
	// EventUserTaken: a participant claims a user id that another live
	// member, or this participant, holds. Its heartbeats are refused
	// (Stats.Rejected["user_taken"]); the event comes once per claimant
	// until it stops claiming, and again to every new subscriber while it
	// claims.
	EventUserTaken EventType = "user_taken"
)

// LeaveReason tells why a member left.
type LeaveReason string

// Leave reasons.
const (
	LeaveBye     LeaveReason = "bye"     // explicit farewell (clean shutdown)
	LeaveExpired LeaveReason = "expired" // ExpireAfter intervals without a heartbeat
	LeaveRemoved LeaveReason = "removed" // the room's owner removed its key
)

// Chat is a room text message.
type Chat struct {
	From Member    // the sender as the table knows it (only Participant and Prefix if unknown)
	Boot uint64    // sender's boot
	Seq  uint64    // sender's seq: (From.Participant, Boot, Seq) is unique
	Text string    // the message
	Sent time.Time // sender's clock
	Self bool      // sent by this participant
}

// Event is one change of the roster, or a chat message.
type Event struct {
	Type   EventType
	Time   time.Time   // local clock
	Member Member      // join, update, leave: the member (at leave: as last known); user_taken: the claimant
	Reason LeaveReason // leave only
	Chat   *Chat       // chat only
	Holder enc.Name    // user_taken only: the participant prefix that holds the user id (this participant's own, or another member's)
}

// eventJSON is the JSON form of an event, for `peets roster --watch --json`.
type eventJSON struct {
	Type   EventType   `json:"type"`
	TimeMs int64       `json:"time_ms"`
	Member *MemberJSON `json:"member,omitempty"`
	Reason LeaveReason `json:"reason,omitempty"`
	Chat   *chatJSON   `json:"chat,omitempty"`
	Holder string      `json:"holder,omitempty"`
}

type chatJSON struct {
	User   string `json:"user"`
	Name   string `json:"name,omitempty"`
	Prefix string `json:"prefix"`
	Boot   uint64 `json:"boot"`
	Seq    uint64 `json:"seq"`
	Text   string `json:"text"`
	SentMs int64  `json:"sent_ms"`
	Self   bool   `json:"self,omitempty"`
}

// MarshalJSON encodes the event as {"type", "time_ms", "member" | "chat",
// "reason", "holder"}.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{Type: e.Type, TimeMs: e.Time.UnixMilli(), Reason: e.Reason}
	if e.Holder != nil {
		j.Holder = e.Holder.String()
	}
	if e.Chat != nil {
		j.Chat = &chatJSON{
			User: e.Chat.From.User, Name: e.Chat.From.Name, Prefix: e.Chat.From.Prefix.String(),
			Boot: e.Chat.Boot, Seq: e.Chat.Seq, Text: e.Chat.Text, SentMs: e.Chat.Sent.UnixMilli(), Self: e.Chat.Self,
		}
	} else {
		m := e.Member.JSON(e.Time)
		j.Member = &m
	}
	return json.Marshal(j)
}

// maxQueued bounds the events waiting for one slow subscriber; beyond it
// events are dropped (and counted).
const maxQueued = 1 << 16

// subscriber delivers events in order on a channel, through an unbounded
// (well, maxQueued) queue so the table never blocks on a slow reader.
type subscriber struct {
	mu      sync.Mutex
	q       []Event
	sig     chan struct{}
	out     chan Event
	stop    chan struct{}
	once    sync.Once
	dropped func()
}

func newSubscriber(dropped func()) *subscriber {
	return &subscriber{
		sig:     make(chan struct{}, 1),
		out:     make(chan Event),
		stop:    make(chan struct{}),
		dropped: dropped,
	}
}

func (s *subscriber) push(ev Event) {
	s.mu.Lock()
	if len(s.q) >= maxQueued {
		s.mu.Unlock()
		s.dropped()
		return
	}
	s.q = append(s.q, ev)
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

func (s *subscriber) close() { s.once.Do(func() { close(s.stop) }) }

// run feeds out until ctx is done or the subscriber is closed, then closes
// out.
func (s *subscriber) run(ctx context.Context) {
	defer close(s.out)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			// deliver what is queued, then end
			for _, ev := range s.take() {
				select {
				case s.out <- ev:
				case <-ctx.Done():
					return
				}
			}
			return
		case <-s.sig:
		}
		for _, ev := range s.take() {
			select {
			case s.out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *subscriber) take() []Event {
	s.mu.Lock()
	q := s.q
	s.q = nil
	s.mu.Unlock()
	return q
}

// chatFrom is the sender of a chat as known from its publication only.
func chatFrom(participant enc.Name) Member {
	m := Member{Participant: participant}
	if len(participant) >= 2 {
		m.Prefix = participant.Prefix(-1)
	}
	return m
}
