//go:build !unix

package sec

import enc "github.com/named-data/ndnd/std/encoding"

// LockIdentity is a no-op where flock is not available.
func LockIdentity(string, enc.Name) (func(), error) { return func() {}, nil }
