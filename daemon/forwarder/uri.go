package forwarder

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Sentinel errors. Returned errors wrap them: test with errors.Is.
var (
	// ErrBadURI reports a malformed or unsupported forwarder or link URI.
	ErrBadURI = errors.New("forwarder: bad URI")
	// ErrNoForwarder reports that no forwarder answered at the requested address.
	ErrNoForwarder = errors.New("forwarder: no forwarder answers")
	// ErrClosed reports use of a closed Conn.
	ErrClosed = errors.New("forwarder: connection closed")
	// ErrDown reports that the forwarder is currently unreachable. Remembered
	// state (routes, strategies, links) is re-applied when it comes back.
	ErrDown = errors.New("forwarder: down (reconnecting)")
	// ErrSocketInUse reports that another live forwarder already listens on the
	// socket the embedded forwarder was asked to use.
	ErrSocketInUse = errors.New("forwarder: socket already in use by a live forwarder")
	// ErrEmbeddedConflict reports a request for a second, differently configured
	// embedded forwarder in one process (the forwarder library keeps global state).
	ErrEmbeddedConflict = errors.New("forwarder: an embedded forwarder with another configuration is already running in this process")
	// ErrCommand reports that the forwarder refused or did not answer a
	// management command.
	ErrCommand = errors.New("forwarder: management command failed")
	// ErrTooLarge reports a packet larger than an NDN packet may be (8800
	// bytes), which no forwarder takes: it was not sent.
	ErrTooLarge = errors.New("forwarder: packet larger than 8800 bytes")
)

// DefaultPort is the standard NDN port used when a tcp/udp URI has none.
const DefaultPort = 6363

// maxUnixPath is the usable length of sockaddr_un.sun_path on Linux (108 with
// the terminating NUL); macOS allows 104.
const maxUnixPath = 103

// endpoint is a parsed transport URI of a forwarder (unix or tcp).
type endpoint struct {
	network string // unix, tcp, tcp4, tcp6
	addr    string // socket path or host:port
	local   bool   // the forwarder sees us as a local face (management via /localhost)
}

// String returns the canonical URI form of the endpoint.
func (e endpoint) String() string {
	if e.network == "unix" {
		return "unix://" + e.addr
	}
	return e.network + "://" + e.addr
}

// parseTransportURI validates a forwarder transport URI the way an NDN client
// would use it (unix:///path, tcp://host[:port], tcp4://..., tcp6://...).
// Unlike ndnd's NewDefaultFace it never exits the process.
func parseTransportURI(s string) (endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return endpoint{}, fmt.Errorf("%w: empty", ErrBadURI)
	}
	u, err := url.Parse(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("%w: %q: %v", ErrBadURI, s, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("%w: %q: user info, query and fragment are not allowed", ErrBadURI, s)
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "unix":
		if u.Opaque != "" || u.Host != "" || u.Path == "" || !filepath.IsAbs(u.Path) {
			return endpoint{}, fmt.Errorf("%w: %q: want unix:///absolute/path", ErrBadURI, s)
		}
		p := filepath.Clean(u.Path)
		if len(p) > maxUnixPath {
			return endpoint{}, fmt.Errorf("%w: %q: socket path longer than %d bytes", ErrBadURI, s, maxUnixPath)
		}
		return endpoint{network: "unix", addr: p, local: true}, nil
	case "tcp", "tcp4", "tcp6":
		host, port, err := splitHostPort(u)
		if err != nil {
			return endpoint{}, fmt.Errorf("%w: %q: %v", ErrBadURI, s, err)
		}
		if u.Path != "" && u.Path != "/" {
			return endpoint{}, fmt.Errorf("%w: %q: tcp URI takes no path", ErrBadURI, s)
		}
		return endpoint{
			network: scheme,
			addr:    net.JoinHostPort(host, strconv.Itoa(port)),
			local:   isLoopbackHost(host),
		}, nil
	case "":
		return endpoint{}, fmt.Errorf("%w: %q: missing scheme (want unix:///path or tcp://host:port)", ErrBadURI, s)
	default:
		return endpoint{}, fmt.Errorf("%w: %q: unsupported scheme %q (want unix or tcp)", ErrBadURI, s, u.Scheme)
	}
}

// splitHostPort extracts and checks host and port (default 6363) of u.
func splitHostPort(u *url.URL) (string, int, error) {
	if u.Opaque != "" || u.Host == "" {
		return "", 0, errors.New("missing host")
	}
	host := u.Hostname()
	if host == "" {
		return "", 0, errors.New("missing host")
	}
	if strings.Contains(host, "%") {
		// zones are legal but rarely what a user means; keep it simple
		return "", 0, errors.New("IPv6 zones are not supported")
	}
	port := DefaultPort
	if ps := u.Port(); ps != "" {
		p, err := strconv.Atoi(ps)
		if err != nil || p < 1 || p > 65535 {
			return "", 0, fmt.Errorf("bad port %q", ps)
		}
		port = p
	} else if strings.HasSuffix(u.Host, ":") {
		return "", 0, errors.New("empty port")
	}
	return host, port, nil
}

// isLoopbackHost reports whether host names this machine's loopback.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// linkTarget is a parsed --link URI (udp or tcp face to a remote forwarder).
type linkTarget struct {
	proto string // udp or tcp
	host  string
	port  int
	want  string // "", "4" or "6": address family forced by the scheme
}

// parseLinkURI validates a link URI: udp://HOST[:PORT], tcp://HOST[:PORT]
// (udp4/udp6/tcp4/tcp6 force the address family).
func parseLinkURI(s string) (linkTarget, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return linkTarget{}, fmt.Errorf("%w: link %q: %v", ErrBadURI, s, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return linkTarget{}, fmt.Errorf("%w: link %q: want udp://HOST:PORT", ErrBadURI, s)
	}
	scheme := strings.ToLower(u.Scheme)
	var t linkTarget
	switch scheme {
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		t.proto, t.want = scheme[:3], scheme[3:]
	default:
		return linkTarget{}, fmt.Errorf("%w: link %q: unsupported scheme (want udp://HOST:PORT or tcp://HOST:PORT)", ErrBadURI, s)
	}
	if t.host, t.port, err = splitHostPort(u); err != nil {
		return linkTarget{}, fmt.Errorf("%w: link %q: %v", ErrBadURI, s, err)
	}
	return t, nil
}

// canonical resolves the host and returns the canonical face URI that NFD
// and YaNFD accept in faces/create (udp4://1.2.3.4:6363, udp6://[::1]:6363).
func (t linkTarget) canonical(ctx context.Context) (string, error) {
	var ips []net.IP
	if ip := net.ParseIP(t.host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, t.host)
		if err != nil {
			return "", fmt.Errorf("link: resolve %q: %w", t.host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	// prefer IPv4 unless the scheme asks for IPv6
	for _, pass := range []string{"4", "6"} {
		if t.want != "" && t.want != pass {
			continue
		}
		for _, ip := range ips {
			if (ip.To4() != nil) == (pass == "4") {
				return fmt.Sprintf("%s%s://%s", t.proto, pass, net.JoinHostPort(ip.String(), strconv.Itoa(t.port))), nil
			}
		}
	}
	return "", fmt.Errorf("%w: link: no usable address for %q", ErrBadURI, t.host)
}
