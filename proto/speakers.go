package proto

import (
	"errors"
	"fmt"
)

// TypeSpeakers tells a page who is speaking (server to page, data
// Speakers): sent when the dominant speaker or the order changes. The
// proxy decides it from the audio levels on every member's audio packets
// (docs/protocol.md 6.3, audio_level; media/speaker).
const TypeSpeakers = "speakers"

// MaxSpeakers bounds Speakers.Order.
const MaxSpeakers = 1000

// Speakers is the data of speakers: user ids.
type Speakers struct {
	// Dominant is the member who has the floor ("" until someone speaks).
	Dominant string `json:"dominant"`
	// Order lists the members heard: the dominant speaker first, then the
	// others by when they last spoke, newest first.
	Order []string `json:"order"`
}

var errBadSpeakers = errors.New("bad speakers data")

func (s *Speakers) validate() error {
	if len(s.Order) > MaxSpeakers {
		return fmt.Errorf("%w: %d members (max %d)", errBadSpeakers, len(s.Order), MaxSpeakers)
	}
	if s.Dominant != "" {
		if err := ValidIdent(s.Dominant); err != nil {
			return fmt.Errorf("%w: dominant: %v", errBadSpeakers, err)
		}
	}
	for _, id := range s.Order {
		if err := ValidIdent(id); err != nil {
			return fmt.Errorf("%w: %v", errBadSpeakers, err)
		}
	}
	return nil
}
