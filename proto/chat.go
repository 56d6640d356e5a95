package proto

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxChatText bounds ChatMessage.Text, in bytes.
const MaxChatText = 2000

// ChatMessage is the body of a room text message ("kind": "chat", "ord":
// true). The sender is the publication's participant prefix; its sequence
// (boot, seq) identifies the message, so receivers show each one once.
//
//	{
//	  "text": "hello"   1..2000 bytes of UTF-8, no control characters other
//	                    than newline and tab
//	}
type ChatMessage struct {
	Text string `json:"text"`
}

// Validate checks a chat message.
func (m *ChatMessage) Validate() error {
	if m.Text == "" || len(m.Text) > MaxChatText {
		return fmt.Errorf("%w: chat text must be 1..%d bytes", ErrPubField, MaxChatText)
	}
	if !utf8.ValidString(m.Text) {
		return fmt.Errorf("%w: chat text is not UTF-8", ErrPubField)
	}
	if strings.ContainsFunc(m.Text, func(r rune) bool {
		return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f
	}) {
		return fmt.Errorf("%w: chat text has control characters", ErrPubField)
	}
	return nil
}

// Encode validates and marshals a chat message.
func (m *ChatMessage) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return marshal(m)
}

// DecodeChat parses and validates a chat body.
func DecodeChat(b []byte) (ChatMessage, error) {
	var m ChatMessage
	if len(b) > MaxPubSize {
		return m, fmt.Errorf("%w: %d bytes", ErrPubTooLarge, len(b))
	}
	if err := unmarshal(b, &m); err != nil {
		return ChatMessage{}, err
	}
	if err := m.Validate(); err != nil {
		return ChatMessage{}, err
	}
	return m, nil
}
