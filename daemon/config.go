// Package daemon wires a Peets proxy together: configuration, the forwarder
// connection, the signing identity, the media publishers and fetchers, the
// room roster and the local web server.
package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/goccy/go-yaml"
	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("bad configuration")

// Config is a proxy's configuration: from a YAML file (--config), then
// command-line flags on top.
type Config struct {
	User      string `yaml:"user"`      // user id
	Name      string `yaml:"name"`      // display name (default: user)
	Room      string `yaml:"room"`      // room id
	Prefix    string `yaml:"prefix"`    // user prefix (default /peets/user/<user>)
	Group     string `yaml:"group"`     // room sync group (default /peets/room/<room>)
	Role      string `yaml:"role"`      // participant | broadcaster | viewer
	Forwarder string `yaml:"forwarder"` // forwarder URI; "" = auto
	// Announce registers the participant prefix and the group with origin
	// client, so that the forwarder hands them to its routing daemon (NLSR,
	// ndnd dv) to announce (forwarder.Options.Announce).
	Announce bool   `yaml:"announce"`
	StateDir string `yaml:"state_dir"` // keys and the embedded forwarder's socket
	// TrustDir keeps the rooms' anchors and imported invitations (default:
	// StateDir; the command line's default is the user's config directory).
	TrustDir string `yaml:"trust_dir"`
	// Invitation is an invitation to import before joining (a file or a
	// peets-invite: link, from `peets invite` on the room owner's machine).
	Invitation string `yaml:"invitation"`
	// SafeBag is a key and certificate issued elsewhere, exported by
	// `ndnsec export` (docs/protocol.md 3.1), for an Invitation made for
	// that key (`peets invite --key-cert`). Its password is in the file
	// SafeBagPasswordFile, or in $PEETS_SAFEBAG_PASSWORD.
	SafeBag             string   `yaml:"safebag"`
	SafeBagPasswordFile string   `yaml:"safebag_password_file"`
	Links               []string `yaml:"links"`  // udp:// or tcp://HOST:PORT links to other hosts' forwarders
	Listen              string   `yaml:"listen"` // web page and signaling, loopback only
	// Description is a JSON object published in the roster entry. Only this
	// file sets it (never the browser), so peers can trust it.
	Description map[string]any `yaml:"description"`

	Heartbeat   time.Duration `yaml:"heartbeat"`    // heartbeat interval (default 1s)
	Jitter      float64       `yaml:"jitter"`       // +- fraction of the interval (default 0.25)
	ExpireAfter int           `yaml:"expire_after"` // missed intervals before a member expires (default 3)

	ICEServers []ICEServer `yaml:"ice_servers"` // handed to the page; none needed on loopback

	// Simulcast: the page sends its camera as several layers (on, the
	// default) or one (off); each subscriber pulls the layer its path
	// carries (docs/protocol.md 4.7).
	Simulcast string `yaml:"simulcast"`
	// LayerIdle: a simulcast layer no subscriber has asked for this long
	// is paused in the page (not encoded) until an Interest asks for it
	// again; the lowest layer is always sent. 0 (the default) or
	// negative: never pause (SuggestedLayerIdle is a good value).
	LayerIdle time.Duration `yaml:"layer_idle"`
}

// Simulcast settings.
const (
	SimulcastOn  = "on"
	SimulcastOff = "off"
)

// DefaultLayers are the camera's simulcast encodings, lowest first: a
// quarter, a half and the full resolution, with caps that fit 150 kbit/s,
// 500 kbit/s and 1.5 Mbit/s links.
var DefaultLayers = []proto.SimulcastLayer{
	{RID: "l", ScaleDown: 4, MaxBitrate: 150_000},
	{RID: "m", ScaleDown: 2, MaxBitrate: 500_000},
	{RID: "h", ScaleDown: 1, MaxBitrate: DefaultVideoBitrate},
}

// DefaultVideoBitrate caps a camera sent as one encoding, and the top layer.
const DefaultVideoBitrate = 1_500_000

// Layers returns the camera's simulcast encodings (nil when off).
func (c *Config) Layers() []proto.SimulcastLayer {
	if c.Simulcast == SimulcastOff {
		return nil
	}
	return DefaultLayers
}

// ICEServer is one STUN/TURN server for the page.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username,omitempty" json:"username,omitempty"`
	Credential string   `yaml:"credential,omitempty" json:"credential,omitempty"`
}

// LoadConfig reads a YAML configuration file. Unknown keys are an error, so
// a typo does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := yaml.UnmarshalWithOptions(b, &c, yaml.Strict()); err != nil {
		return c, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return c, nil
}

// Normalize fills defaults and validates. It is idempotent.
func (c *Config) Normalize() error {
	if err := proto.ValidIdent(c.User); err != nil {
		return fmt.Errorf("%w: user: %v", ErrConfig, err)
	}
	if err := proto.ValidIdent(c.Room); err != nil {
		return fmt.Errorf("%w: room: %v", ErrConfig, err)
	}
	if c.Name == "" {
		c.Name = c.User
	}
	if len(c.Name) > 64 {
		return fmt.Errorf("%w: name longer than 64 bytes", ErrConfig)
	}
	if c.Prefix == "" {
		c.Prefix = proto.DefaultUserPrefix(c.User).String()
	}
	if c.Group == "" {
		c.Group = proto.DefaultGroupPrefix(c.Room).String()
	}
	for _, p := range []struct{ what, v string }{{"prefix", c.Prefix}, {"group", c.Group}} {
		n, err := enc.NameFromStr(p.v)
		if err != nil || len(n) == 0 {
			return fmt.Errorf("%w: %s %q is not an NDN name", ErrConfig, p.what, p.v)
		}
	}
	// The room's anchor certifies P = <prefix>/<room> for the user id the
	// prefix ends in (docs/protocol.md 3).
	if u, ok := sec.UserOf(c.ParticipantPrefix()); !ok || u != c.User {
		return fmt.Errorf("%w: prefix %s must end in /%s, the user id", ErrConfig, c.Prefix, c.User)
	}
	switch c.Role {
	case "":
		c.Role = proto.RoleParticipant
	case proto.RoleParticipant, proto.RoleBroadcaster, proto.RoleViewer:
	default:
		return fmt.Errorf("%w: role %q (want participant, broadcaster or viewer)", ErrConfig, c.Role)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.Heartbeat < 50*time.Millisecond || c.Heartbeat > time.Minute {
		return fmt.Errorf("%w: heartbeat %v out of [50ms, 1m]", ErrConfig, c.Heartbeat)
	}
	if c.Jitter == 0 {
		c.Jitter = 0.25
	}
	if c.Jitter < 0 || c.Jitter >= 1 {
		return fmt.Errorf("%w: jitter %v out of [0, 1)", ErrConfig, c.Jitter)
	}
	if c.ExpireAfter == 0 {
		c.ExpireAfter = 3
	}
	switch c.Simulcast {
	case "":
		c.Simulcast = SimulcastOn
	case SimulcastOn, SimulcastOff:
	default:
		return fmt.Errorf("%w: simulcast %q (want on or off)", ErrConfig, c.Simulcast)
	}
	if c.ExpireAfter < 1 || c.ExpireAfter > 100 {
		return fmt.Errorf("%w: expire_after %d out of [1, 100]", ErrConfig, c.ExpireAfter)
	}
	if c.Description != nil {
		b, err := json.Marshal(c.Description)
		if err != nil {
			return fmt.Errorf("%w: description is not JSON-encodable: %v", ErrConfig, err)
		}
		if len(b) > 2048 {
			return fmt.Errorf("%w: description is %d bytes (max 2048)", ErrConfig, len(b))
		}
	}
	return nil
}

// UserPrefix is the parsed user prefix (after Normalize).
func (c *Config) UserPrefix() enc.Name { n, _ := enc.NameFromStr(c.Prefix); return n }

// GroupPrefix is the parsed sync group prefix (after Normalize).
func (c *Config) GroupPrefix() enc.Name { n, _ := enc.NameFromStr(c.Group); return n }

// ParticipantPrefix is <user prefix>/<room>.
func (c *Config) ParticipantPrefix() enc.Name { return proto.ParticipantPrefix(c.UserPrefix(), c.Room) }
