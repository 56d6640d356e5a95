// Command impostor is a test program for the end-to-end tests: an app on a
// forwarder that registers a prefix longer than a participant's (its media,
// P/media, with the Capture flag, so that no route of P is inherited and
// the forwarder sends it, not the publisher, every Interest under it) and
// answers every Interest there with Data that fail verification: media
// packets, "gone" answers and stream metadata signed by a key of its own.
//
//	impostor --forwarder unix:///run/.../nfd.sock --prefix /peets/user/alice/lab/media
//
// It prints "impostor ready" once the route is registered, and "impostor
// answered N" when it stops (SIGINT, SIGTERM); its connection then closes
// and the forwarder drops its route.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/proto"
)

func main() {
	uri := flag.String("forwarder", "", "forwarder URI (unix:// or tcp://)")
	prefix := flag.String("prefix", "", "prefix to take over, e.g. P/media")
	fresh := flag.Duration("freshness", 0, "FreshnessPeriod of the forged Data (0: none)")
	flag.Parse()
	if err := run(*uri, *prefix, *fresh); err != nil {
		fmt.Fprintln(os.Stderr, "impostor:", err)
		os.Exit(1)
	}
}

func run(uri, prefixURI string, fresh time.Duration) error {
	prefix, err := enc.NameFromStr(prefixURI)
	if err != nil || len(prefix) < 2 {
		return fmt.Errorf("bad --prefix %q: %v", prefixURI, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()

	// Three kinds of forged signatures, all by a key of the impostor's:
	// none named (the owner's key is meant: a bad signature), a key under
	// the owner's prefix that is not the pinned one (a key conflict), a
	// key elsewhere (a wrong signer).
	owner := prefix.Prefix(-1)
	mine, err := signer.KeygenEd25519(owner.Append(enc.NewGenericComponent("KEY"), enc.NewGenericComponent("impostor")))
	if err != nil {
		return err
	}
	elsewhere, err := signer.KeygenEd25519(enc.Name{enc.NewGenericComponent("impostor"), enc.NewGenericComponent("KEY"), enc.NewGenericComponent("x")})
	if err != nil {
		return err
	}
	im := &impostor{signers: []ndn.Signer{noKeyLocator{mine}, mine, elsewhere}, fresh: fresh}
	e := conn.Engine()
	if err := e.AttachHandler(prefix, im.onInterest); err != nil {
		return err
	}
	flags := uint64(mgmt.RouteFlagChildInherit | mgmt.RouteFlagCapture)
	if _, err := e.ExecMgmtCmd("rib", "register", &mgmt.ControlArgs{Name: prefix, Flags: optional.Some(flags)}); err != nil {
		return fmt.Errorf("register %s: %w", prefix, err)
	}
	fmt.Println("impostor ready")
	<-ctx.Done()
	fmt.Printf("impostor answered %d\n", im.answers.Load())
	return nil
}

// noKeyLocator is a signer whose Data name no key.
type noKeyLocator struct{ ndn.Signer }

func (noKeyLocator) KeyLocator() enc.Name { return nil }

type impostor struct {
	signers []ndn.Signer
	fresh   time.Duration
	answers atomic.Uint64
}

// onInterest answers a media Interest .../t=<boot>/seq=<n> with an RTP
// packet (or, every fifth seq, a "gone" that claims a newer boot), and a
// metadata Interest .../32=meta with metadata that claim the stream is far
// ahead in a newer boot; anything else is ignored.
func (im *impostor) onInterest(a ndn.InterestHandlerArgs) {
	name := a.Interest.Name()
	if len(name) < 2 {
		return
	}
	ct := ndn.ContentTypeBlob
	var content []byte
	n := im.answers.Load()
	switch last, prev := name[len(name)-1], name[len(name)-2]; {
	case last.Equal(proto.KwMeta):
		m := proto.StreamMeta{Boot: uint64(time.Now().UnixMicro()), Latest: 1 << 20, KeySeq: 1 << 20, MimeType: "video/vp8", Rate: 5000}
		stream := name[: len(name)-1 : len(name)-1] // Append must not write into the Interest's name
		name = proto.MetaDataName(stream, m.Boot, m.Latest)
		content = m.Encode()
	case prev.IsTimestamp() && last.IsSequenceNum():
		if last.NumberVal()%5 == 0 {
			m := proto.StreamMeta{Boot: prev.NumberVal() + 1, Latest: 1 << 20, KeySeq: 1 << 20, Oldest: 1 << 19}
			ct, content = ndn.ContentTypeNack, m.Encode()
			break
		}
		content = make([]byte, 100)
		content[0], content[1] = 0x80, 96 // RTP version 2, payload type 96
	default:
		return
	}
	cfg := &ndn.DataConfig{ContentType: optional.Some(ct)}
	if im.fresh > 0 {
		cfg.Freshness = optional.Some(im.fresh)
	}
	d, err := spec.Spec{}.MakeData(name, cfg, enc.Wire{content}, im.signers[n%uint64(len(im.signers))])
	if err != nil {
		return
	}
	if a.Reply(d.Wire) == nil {
		im.answers.Add(1)
	}
}
