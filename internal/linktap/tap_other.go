//go:build !linux

package linktap

import "github.com/peets/peets/internal/netns"

// Tap counts the packets arriving on an interface (Linux only).
type Tap struct{}

// Open is unsupported outside Linux.
func Open(*netns.NS, string, uint16) (*Tap, error) { return nil, netns.ErrUnsupported }

// Counts returns nothing outside Linux.
func (t *Tap) Counts() (Counts, uint64) { return Counts{}, 0 }

// Streams returns nothing outside Linux.
func (t *Tap) Streams() map[string]uint64 { return nil }

// Close does nothing outside Linux.
func (t *Tap) Close() error { return nil }
