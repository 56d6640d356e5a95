// Package ndndfw writes the configuration of an `ndnd fw` (ndnd v1.5.3's
// forwarder) as the project's tests and benchmarks run it: a unix socket
// for local apps, optionally UDP unicast faces, nothing else listening.
package ndndfw

import (
	"fmt"
	"strings"
)

// Config is an ndnd fw configuration.
type Config struct {
	Socket string // the unix socket local apps connect to
	// UDP enables UDP unicast faces on UDPPort, on all interfaces (in a
	// network namespace of one's own). ndnd binds UDPPort even when they
	// are disabled (0: a port the system picks).
	UDP     bool
	UDPPort int
	// MTU of UDP faces (0: ndnd's 1420). ndnd splits a larger packet into
	// NDNLPv2 fragments.
	MTU int
	// Readvertise hands the routes apps register with origin client to a
	// routing daemon on /localhost/nlsr (ndnd dv, NLSR).
	Readvertise bool
	Threads     int    // forwarding threads (0: ndnd's 8)
	LogLevel    string // default WARN
}

// YAML is the configuration file's text.
func (c Config) YAML() string {
	var b strings.Builder
	level := c.LogLevel
	if level == "" {
		level = "WARN"
	}
	fmt.Fprintf(&b, "core:\n  log_level: %s\nfaces:\n  udp:\n    enabled_unicast: %t\n    enabled_multicast: false\n    port_unicast: %d\n",
		level, c.UDP, c.UDPPort)
	if c.MTU > 0 {
		fmt.Fprintf(&b, "    default_mtu: %d\n", c.MTU)
	}
	fmt.Fprintf(&b, "  tcp:\n    enabled: false\n  unix:\n    enabled: true\n    socket_path: %s\n"+
		"  websocket:\n    enabled: false\n  http3:\n    enabled: false\n", c.Socket)
	if c.Threads > 0 {
		fmt.Fprintf(&b, "fw:\n  threads: %d\n", c.Threads)
	}
	fmt.Fprintf(&b, "tables:\n  rib:\n    readvertise_nlsr: %t\n", c.Readvertise)
	return b.String()
}
