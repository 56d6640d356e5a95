package forwarder

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	ndn_io "github.com/named-data/ndnd/std/utils/io"
)

// fakeNFD is a unix-socket "forwarder" that answers management commands
// as NFD 24.07's rib manager does with its default configuration (any
// signer, ndn-cxx's signed Interest policy): per KeyLocator, every
// DigestSha256 command counting as the key
// /localhost/identity/digest-sha256, a command is refused with 403 unless
// its SignatureTime is later than the last accepted one's and its
// SignatureNonce is new.
type fakeNFD struct {
	sock string

	mu       sync.Mutex
	last     map[string]time.Time
	nonces   map[string]bool
	perKey   map[string]int
	refused  int
	accepted int
	status   []uint64 // answers to give before validating (e.g. 403, 400), first first
}

func startFakeNFD(t *testing.T) *fakeNFD {
	t.Helper()
	f := &fakeNFD{
		sock: filepath.Join(t.TempDir(), "nfd.sock"),
		last: map[string]time.Time{}, nonces: map[string]bool{}, perKey: map[string]int{},
	}
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = ndn_io.ReadTlvStream(c, func(frame []byte) bool {
					if out := respondInterest(frame, f.answer); out != nil {
						if _, err := c.Write(out); err != nil {
							return false
						}
					}
					return true
				}, nil)
			}()
		}
	}()
	return f
}

// answer validates one command and encodes the ControlResponse Data.
func (f *fakeNFD) answer(i *spec.Interest) []byte {
	code := f.check(i)
	text := "OK"
	if code != 200 {
		text = "authorization rejected"
	}
	resp := &mgmt.ControlResponse{Val: &mgmt.ControlResponseVal{StatusCode: code, StatusText: text}}
	d, err := spec.Spec{}.MakeData(i.Name(), &ndn.DataConfig{}, resp.Encode(), sig.NewSha256Signer())
	if err != nil {
		return nil
	}
	return d.Wire.Join()
}

func (f *fakeNFD) check(i *spec.Interest) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.status) > 0 {
		code := f.status[0]
		f.status = f.status[1:]
		if code == 403 {
			f.refused++
		}
		return code
	}
	s := i.Signature()
	key := "/localhost/identity/digest-sha256"
	if s.SigType() != ndn.SignatureDigestSha256 {
		key = s.KeyName().String()
	}
	tm, nonce := s.SigTime(), string(s.SigNonce())
	if tm == nil || nonce == "" || !tm.After(f.last[key]) || f.nonces[key+"|"+nonce] {
		f.refused++
		return 403
	}
	f.last[key] = *tm
	f.nonces[key+"|"+nonce] = true
	f.perKey[key]++
	f.accepted++
	return 200
}

func (f *fakeNFD) counts() (accepted, refused int, perKey map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, n := range f.perKey {
		out[k] = n
	}
	return f.accepted, f.refused, out
}

// TestCommandTimes: a Conn's SignatureTimes strictly increase, in
// milliseconds, through one millisecond and a clock that steps back.
func TestCommandTimes(t *testing.T) {
	var m commander
	base := time.UnixMilli(1_800_000_000_000)
	got := []time.Time{
		m.nextTime(base.Add(300 * time.Microsecond)),
		m.nextTime(base.Add(600 * time.Microsecond)), // same millisecond
		m.nextTime(base.Add(-time.Second)),           // clock stepped back
		m.nextTime(base.Add(5 * time.Millisecond)),
	}
	want := []time.Time{base, base.Add(time.Millisecond), base.Add(2 * time.Millisecond), base.Add(5 * time.Millisecond)}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("time %d: %v, want %v", i, got[i].UnixMilli(), want[i].UnixMilli())
		}
	}
}

// TestCommandsOfConcurrentConns: two Conns (two processes, say) send
// commands from many goroutines at once to a forwarder that checks command
// times per key as NFD does: none is refused. Each Conn signs with a key of
// its own, and the commands of the engine it hands out (sync's capture,
// ndnd's RegisterRoute) are signed with that key too.
func TestCommandsOfConcurrentConns(t *testing.T) {
	f := startFakeNFD(t)
	conns := []*Conn{openT(t, Options{URI: "unix://" + f.sock}), openT(t, Options{URI: "unix://" + f.sock})}
	const goroutines, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*goroutines*each)
	for ci, c := range conns {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					p := name(t, fmt.Sprintf("/cmd/c%d/g%d/k%d", ci, g, k))
					var err error
					switch k % 3 {
					case 0:
						err = c.Register(ctxT(t), p)
					case 1:
						_, err = c.Engine().ExecMgmtCmd("rib", "register", &mgmt.ControlArgs{Name: p})
					default:
						err = c.Engine().RegisterRoute(p)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	accepted, refused, perKey := f.counts()
	if refused != 0 || accepted != 2*goroutines*each {
		t.Errorf("forwarder accepted %d, refused %d commands; want %d, 0", accepted, refused, 2*goroutines*each)
	}
	if len(perKey) != 2 {
		t.Errorf("commands came under %d keys, want one per Conn: %v", len(perKey), perKey)
	}
	for _, c := range conns {
		st := c.Stats()
		if perKey[st.CommandKey] != goroutines*each {
			t.Errorf("key %s signed %d commands, want %d (%v)", st.CommandKey, perKey[st.CommandKey], goroutines*each, perKey)
		}
		if st.CommandsRefused != 0 || st.RegisterErrors != 0 {
			t.Errorf("stats: %d refused, %d errors", st.CommandsRefused, st.RegisterErrors)
		}
	}
}

// TestCommandRefusals: a 403 is sent again after a back-off (with a new
// time and nonce) and counted; another refusal is final.
func TestCommandRefusals(t *testing.T) {
	f := startFakeNFD(t)
	c := openT(t, Options{URI: "unix://" + f.sock})
	f.mu.Lock()
	f.status = []uint64{403, 403}
	f.mu.Unlock()
	start := time.Now()
	if err := c.Register(ctxT(t), name(t, "/cmd/a")); err != nil {
		t.Fatalf("register after two refusals: %v", err)
	}
	if d := time.Since(start); d < refusedBackoff*3 {
		t.Errorf("two refusals retried within %v: no back-off", d)
	}
	if st := c.Stats(); st.CommandsRefused != 2 || st.RegisterErrors != 0 {
		t.Errorf("stats: %d refused, %d errors; want 2, 0", st.CommandsRefused, st.RegisterErrors)
	}

	f.mu.Lock()
	f.status = []uint64{400}
	f.mu.Unlock()
	err := c.Register(ctxT(t), name(t, "/cmd/b"))
	if !errors.Is(err, ErrCommand) {
		t.Fatalf("register refused with 400: %v, want ErrCommand", err)
	}
	if accepted, _, _ := f.counts(); accepted != 1 {
		t.Errorf("a 400 was sent again: %d commands accepted after it, want 1 (the first)", accepted)
	}

	// refused every time: given up after mgmtAttempts
	f.mu.Lock()
	f.status = []uint64{403, 403, 403, 403, 403}
	f.mu.Unlock()
	if err := c.Register(ctxT(t), name(t, "/cmd/c")); !errors.Is(err, ErrCommand) {
		t.Fatalf("register refused every time: %v, want ErrCommand", err)
	}
	f.mu.Lock()
	left := len(f.status)
	f.mu.Unlock()
	if left != 5-mgmtAttempts {
		t.Errorf("%d attempts, want %d", 5-left, mgmtAttempts)
	}
}

// TestCommandSigner: SetCmdSec on the Conn's engine changes the key of its
// later commands.
func TestCommandSigner(t *testing.T) {
	f := startFakeNFD(t)
	c := openT(t, Options{URI: "unix://" + f.sock})
	key := name(t, "/ndn/edu/example/alice/KEY/%01%02")
	s, err := sig.KeygenEd25519(key)
	if err != nil {
		t.Fatal(err)
	}
	c.Engine().SetCmdSec(s, nil)
	if err := c.Register(ctxT(t), name(t, "/cmd/x")); err != nil {
		t.Fatal(err)
	}
	if _, _, perKey := f.counts(); perKey[key.String()] != 1 || c.Stats().CommandKey != key.String() {
		t.Errorf("commands per key %v, stats key %s; want 1 under %s", perKey, c.Stats().CommandKey, key)
	}
}

// TestLinkAnswerForNfdc: the app relay's answer to faces/create carries
// every field NFD's nfdc requires (ndn-cxx's FaceCreateCommand response:
// FaceId, Uri, LocalUri, FacePersistency, Flags), when it makes the link
// and when the link exists already (409).
func TestLinkAnswerForNfdc(t *testing.T) {
	peer := startUDPPeer(t, "U")
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	b := openT(t, Options{URI: "unix://" + a.SocketPath()})
	for i, want := range []uint64{200, 409} {
		resp, _ := b.exec(ctxT(t), "faces", "create", &mgmt.ControlArgs{Uri: optional.Some("udp4://" + peer)})
		if resp == nil || resp.Val == nil || resp.Val.Params == nil {
			t.Fatalf("answer %d: %+v", i, resp)
		}
		v, p := resp.Val, resp.Val.Params
		if v.StatusCode != want || !p.FaceId.IsSet() || !p.Uri.IsSet() || !p.LocalUri.IsSet() ||
			!p.FacePersistency.IsSet() || !p.Flags.IsSet() {
			t.Errorf("answer %d: status %d (want %d), params %+v", i, v.StatusCode, want, p)
		}
	}
}

// TestRefusedCommandRetried: a route the forwarder refused, every attempt
// of Register, is not given up: the Conn sends it again in the background
// until it is taken; an unregistered one is not.
func TestRefusedCommandRetried(t *testing.T) {
	f := startFakeNFD(t)
	c := openT(t, Options{URI: "unix://" + f.sock})
	refuse := func(n int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.status = nil
		for range n {
			f.status = append(f.status, 403)
		}
	}
	refuse(mgmtAttempts)
	if err := c.Register(ctxT(t), name(t, "/cmd/retried")); !errors.Is(err, ErrCommand) {
		t.Fatalf("register refused every time: %v, want ErrCommand", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if accepted, _, _ := f.counts(); accepted == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refused route was not sent again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Refused, then withdrawn before the retry: not sent again.
	refuse(mgmtAttempts)
	if err := c.Register(ctxT(t), name(t, "/cmd/withdrawn")); err == nil {
		t.Fatal("register: no refusal")
	}
	if err := c.Unregister(ctxT(t), name(t, "/cmd/withdrawn")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * retryFirst)
	if accepted, _, perKey := f.counts(); accepted != 2 { // the route above and the unregister
		t.Fatalf("%d commands accepted, want 2 (%v)", accepted, perKey)
	}
}
