package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon"
)

// daemonFlags are the flags shared by up, bot and demo.
type daemonFlags struct {
	ndnFlags
	config               string
	user                 string
	name                 string
	room                 string
	prefix               string
	group                string
	role                 string
	links                []string
	heartbeat            time.Duration
	jitter               float64
	expire               int
	layerIdle            time.Duration
	announce             bool
	invite               string
	safebag, safebagPass string
}

func (f *daemonFlags) add(cmd *cobra.Command, defUser string) {
	f.ndnFlags.add(cmd)
	f.addMetrics(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration file (flags override it)")
	fl.StringVar(&f.user, "user", defUser, "user id: 1 to 64 of [A-Za-z0-9._-], the first a letter or digit")
	fl.StringVar(&f.name, "name", "", "display name (default: the user id)")
	fl.StringVar(&f.room, "room", "", "room id (same rules as --user)")
	fl.StringVar(&f.prefix, "prefix", "", "user prefix, routable on a testbed (default /peets/user/<user>)")
	fl.StringVar(&f.group, "group", "", "room sync group prefix (default /peets/room/<room>)")
	fl.StringVar(&f.role, "role", "", "participant, broadcaster (publishes, receives nothing) or viewer (receives only)")
	fl.StringArrayVar(&f.links, "link", nil, "udp://HOST:PORT or tcp://HOST:PORT of another host's forwarder to link to (repeatable)")
	fl.DurationVar(&f.heartbeat, "heartbeat", 0, "mean heartbeat interval (default 1s)")
	fl.Float64Var(&f.jitter, "jitter", 0, "heartbeat jitter, +- fraction of the interval (default 0.25)")
	fl.IntVar(&f.expire, "expire-after", 0, "missed heartbeat intervals before a member is dropped (default 3)")
	fl.StringVar(&f.invite, "invitation", "", "import this invitation (a file, or a peets-invite: link from `peets invite` on the room owner's machine) and join with it")
	fl.StringVar(&f.safebag, "safebag", "", "with --invitation made for your own NDN key (peets invite --key-cert): that key, as `ndnsec export` writes it")
	fl.StringVar(&f.safebagPass, "safebag-password-file", "", "a file holding the --safebag's password (default: $PEETS_SAFEBAG_PASSWORD)")
	fl.BoolVar(&f.announce, "announce", false, "register the user prefix and the room's group with origin client, so that the forwarder's routing daemon (NLSR, ndnd dv) announces them: no static routes needed (config announce)")
	fl.DurationVar(&f.layerIdle, "layer-idle", 0, "pause a camera layer (simulcast) no subscriber has asked for this long; negative: never (config layer_idle)")
}

// build merges the config file and the flags that were set.
func (f *daemonFlags) build(cmd *cobra.Command) (daemon.Config, error) {
	var c daemon.Config
	if f.config != "" {
		var err error
		if c, err = daemon.LoadConfig(f.config); err != nil {
			return c, err
		}
	}
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) || (*dst == "" && v != "") {
			*dst = v
		}
	}
	set("user", &c.User, f.user)
	set("name", &c.Name, f.name)
	set("room", &c.Room, f.room)
	set("prefix", &c.Prefix, f.prefix)
	set("group", &c.Group, f.group)
	set("role", &c.Role, f.role)
	set("forwarder", &c.Forwarder, f.forwarder)
	set("state-dir", &c.StateDir, f.stateDir)
	set("trust-dir", &c.TrustDir, f.trustDir)
	set("invitation", &c.Invitation, f.invite)
	set("safebag", &c.SafeBag, f.safebag)
	set("safebag-password-file", &c.SafeBagPasswordFile, f.safebagPass)
	if len(f.links) > 0 {
		c.Links = append(c.Links, f.links...)
	}
	if f.heartbeat != 0 {
		c.Heartbeat = f.heartbeat
	}
	if f.jitter != 0 {
		c.Jitter = f.jitter
	}
	if f.expire != 0 {
		c.ExpireAfter = f.expire
	}
	if cmd.Flags().Changed("layer-idle") {
		c.LayerIdle = f.layerIdle
	}
	if f.announce {
		c.Announce = true
	}
	if c.User == "" {
		return c, fmt.Errorf("--user is required: your user id, e.g. --user alice (or user: in the --config file)")
	}
	if c.Room == "" {
		return c, fmt.Errorf("--room is required: the room to join, e.g. --room lab (or room: in the --config file)")
	}
	if c.StateDir == "" {
		c.StateDir = f.dir()
	}
	if c.TrustDir == "" {
		c.TrustDir = f.trust()
	}
	return c, c.Normalize()
}
