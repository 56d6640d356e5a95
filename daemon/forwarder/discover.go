package forwarder

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// probeTimeout bounds the "does a forwarder answer there" dial of discovery.
const probeTimeout = 300 * time.Millisecond

// Kinds of forwarder a Conn can be attached to.
const (
	KindEmbedded = "embedded" // ndnd's YaNFD running in this process
	KindExternal = "external" // a separate forwarder process (NFD, ndnd fw, another peets)
)

// URIEmbedded is the Options.URI value that forces the in-process forwarder.
const URIEmbedded = "embedded"

// clientEnv is where auto discovery looks; tests substitute it.
type clientEnv struct {
	getenv     func(string) string
	confFiles  []string // client.conf files, highest priority first
	defaultURI string   // what NDN clients use when nothing is configured
}

// systemClientEnv returns the standard NDN client configuration sources:
// NDN_CLIENT_TRANSPORT, ~/.ndn/client.conf, /usr/local/etc/ndn/client.conf,
// /etc/ndn/client.conf, else unix:///run/nfd/nfd.sock.
func systemClientEnv() clientEnv {
	env := clientEnv{getenv: os.Getenv, defaultURI: "unix:///run/nfd/nfd.sock"}
	if runtime.GOOS == "darwin" {
		env.defaultURI = "unix:///var/run/nfd/nfd.sock"
	}
	if home := os.Getenv("HOME"); home != "" {
		env.confFiles = append(env.confFiles, filepath.Join(home, ".ndn", "client.conf"))
	}
	env.confFiles = append(env.confFiles, "/usr/local/etc/ndn/client.conf", "/etc/ndn/client.conf")
	return env
}

// configuredTransport returns the client transport URI configured by the
// environment or a client.conf, and where it came from; ok is false when
// nothing is configured.
func (env clientEnv) configuredTransport() (uri, source string, ok bool) {
	if v := strings.TrimSpace(env.getenv("NDN_CLIENT_TRANSPORT")); v != "" {
		return v, "NDN_CLIENT_TRANSPORT", true
	}
	for _, fn := range env.confFiles {
		if v, found := readClientConf(fn); found {
			return v, fn, true
		}
	}
	return "", "", false
}

// readClientConf returns the last "transport=" value of an INI-style
// client.conf (";" and "#" start comments).
func readClientConf(fn string) (string, bool) {
	f, err := os.Open(fn)
	if err != nil {
		return "", false
	}
	defer f.Close()
	var val string
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "transport" {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

// plan is the outcome of discovery: what Open should attach to.
type plan struct {
	kind   string
	ep     endpoint // external: where
	conn   net.Conn // external: connection already dialed by the probe
	sock   string   // embedded: public socket path
	shared bool     // external: the forwarder serving <StateDir>/nfd.sock (another peets process)
	reason string
}

// probe dials ep once, quickly; the connection is kept for the face.
func probe(ctx context.Context, ep endpoint) (net.Conn, error) {
	d := net.Dialer{Timeout: probeTimeout}
	return d.DialContext(ctx, ep.network, ep.addr)
}

// discover implements the auto order: (1) the configured NDN client
// transport (or the system default when none is configured) if a forwarder
// answers there; (2) <StateDir>/nfd.sock if a forwarder answers there (or
// the embedded forwarder of this very process serves it); (3) the embedded
// forwarder.
func discover(ctx context.Context, env clientEnv, stateSock string, log *slog.Logger) plan {
	uri, source, configured := env.configuredTransport()
	if !configured {
		uri, source = env.defaultURI, "default"
	}
	if ep, err := parseTransportURI(uri); err != nil {
		log.Warn("ignoring malformed NDN client transport", "source", source, "err", err)
	} else if c, err := probe(ctx, ep); err == nil {
		return plan{kind: KindExternal, ep: ep, conn: c, reason: "client transport from " + source}
	} else {
		log.Debug("no forwarder at client transport", "uri", ep.String(), "source", source, "err", err)
	}

	if own := activeEmbeddedSock(); own != "" && own == stateSock {
		return plan{kind: KindEmbedded, sock: own, reason: "embedded forwarder of this process"}
	}
	if ep, err := parseTransportURI("unix://" + stateSock); err == nil {
		if c, err := probe(ctx, ep); err == nil {
			return plan{kind: KindExternal, ep: ep, conn: c, shared: true, reason: "shared forwarder at " + stateSock}
		}
	}
	if own := activeEmbeddedSock(); own != "" {
		// one forwarder per process: join it rather than fail on the StateDir
		return plan{kind: KindEmbedded, sock: own, reason: "embedded forwarder of this process (socket " + own + ")"}
	}
	return plan{kind: KindEmbedded, sock: stateSock, reason: "no forwarder found"}
}

// dialWithin dials ep with backoff until it answers or wait elapses.
func dialWithin(ctx context.Context, ep endpoint, wait time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	backoff := redialMin
	var last error
	for {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, ep.network, ep.addr)
		if err == nil {
			return c, nil
		}
		last = err
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w at %s (waited %v): %v", ErrNoForwarder, ep, wait, last)
		case <-t.C:
		}
		backoff = min(backoff*2, redialMax/2)
	}
}
