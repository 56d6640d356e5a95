//go:build e2e

// Package ndn holds the multi-process end-to-end tests of media over NDN and
// of the roster: real peets processes on a real forwarder.
package ndn

import (
	"testing"

	"github.com/peets/peets/internal/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }
