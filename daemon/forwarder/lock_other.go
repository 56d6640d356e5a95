//go:build !unix

package forwarder

// lockStateDir is a no-op where flock is unavailable.
func lockStateDir(string) (func(), error) { return func() {}, nil }
