//go:build !linux

package netns

func supported() error { return ErrUnsupported }

// Do is unsupported outside Linux.
func (n *NS) Do(fn func() error) error { return ErrUnsupported }

func kill(int) {}

func alive(int) bool { return true }
