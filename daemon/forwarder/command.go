package forwarder

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"
)

// Management commands are signed Interests (NDN packet format 0.3: an
// InterestSignatureInfo with a SignatureNonce and a SignatureTime). NFD
// checks them with ndn-cxx's validator, which remembers, per signing key
// (the KeyLocator name), the SignatureTime of the last command it accepted
// and refuses (403 "authorization rejected") a command whose time is not
// later, or whose nonce it has seen. ndnd's engine signs every command
// DigestSha256, which has no KeyLocator: NFD files the commands of every
// such process under one key, /localhost/identity/digest-sha256, with
// millisecond times. Two processes that start together then refuse each
// other's commands (a command signed a millisecond later that arrives
// first makes the other "reordered"), and two commands of one process in
// the same millisecond refuse the second.
//
// So each Conn signs with a key of its own, generated at Open (ECDSA
// P-256, /localhost/peets/KEY/<random>; a local NFD's default
// configuration accepts any signer, YaNFD checks none), its times strictly
// increase, and its commands are signed and handed to the face one at a
// time, so they reach the forwarder in the order of their times. Every
// user of Conn.Engine() goes through here (cmdEngine), ndnd's ExecMgmtCmd,
// RegisterRoute and UnregisterRoute included.

// cmdIdentity names the keys Conns generate to sign their commands.
var cmdIdentity = enc.Name{enc.NewGenericComponent("localhost"), enc.NewGenericComponent("peets")}

// cmdLifetime is a command Interest's lifetime (ndnd's, and nfdc's default).
const cmdLifetime = time.Second

// commander signs and sends one Conn's management commands.
type commander struct {
	engine ndn.Engine // the raw engine: Express only
	local  bool       // the forwarder takes us for a local app: /localhost, else /localhop

	mu       sync.Mutex // held while a command is signed and sent
	signer   ndn.Signer
	checker  func(enc.Name, enc.Wire, ndn.Signature) bool // the answer's signature; nil = accept
	lastTime time.Time                                    // SignatureTime of the last command, ms
}

func newCommander(engine ndn.Engine, local bool) (*commander, error) {
	s, err := signer.KeygenEcc(security.MakeKeyName(cmdIdentity), elliptic.P256())
	if err != nil {
		return nil, fmt.Errorf("forwarder: command key: %w", err)
	}
	return &commander{engine: engine, local: local, signer: s}, nil
}

// setSigner replaces the signer (and the check of answers) of later
// commands, e.g. with a key certified by a forwarder's trust anchor.
func (m *commander) setSigner(s ndn.Signer, check func(enc.Name, enc.Wire, ndn.Signature) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s != nil {
		m.signer = s
	}
	m.checker = check
}

// keyName is the KeyLocator of the commands (nil for a digest signer).
func (m *commander) keyName() enc.Name {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signer.KeyLocator()
}

// nextTime returns a SignatureTime later than every one before it
// (milliseconds, as the forwarders compare them), even if the clock went
// back or two commands fall in one millisecond. Called with mu held.
func (m *commander) nextTime(now time.Time) time.Time {
	t := now.Truncate(time.Millisecond)
	if !t.After(m.lastTime) {
		t = m.lastTime.Add(time.Millisecond)
	}
	m.lastTime = t
	return t
}

// cmdResult is the outcome of one command.
type cmdResult struct {
	resp *mgmt.ControlResponse // the forwarder's answer, if any
	err  error
}

// send signs one command and expresses it; the result arrives on the
// returned channel (buffered: nobody has to read it).
func (m *commander) send(module, verb string, args *mgmt.ControlArgs) (<-chan cmdResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	nonce := make([]byte, 12) // 8 for the signature, 4 for the Interest
	_, _ = rand.Read(nonce)
	cfg := &ndn.InterestConfig{
		Lifetime:    optional.Some(cmdLifetime),
		Nonce:       utils.ConvertNonce(nonce[8:]),
		MustBeFresh: true,
		SigNonce:    nonce[:8],
		SigTime:     optional.Some(time.Duration(m.nextTime(time.Now()).UnixMilli()) * time.Millisecond),
	}
	interest, err := mgmt.NewConfig(m.local, m.signer, spec.Spec{}).MakeCmd(module, verb, args, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %v", ErrCommand, module, verb, err)
	}
	check := m.checker
	ch := make(chan cmdResult, 1)
	err = m.engine.Express(interest, func(a ndn.ExpressCallbackArgs) {
		ch <- answer(a, check)
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// answer turns an Express outcome into a command result, as ndnd's
// ExecMgmtCmd does: resp is set when the forwarder answered, err when
// the answer is not 200 (or there was none: ndn.ErrDeadlineExceed on a
// timeout).
func answer(a ndn.ExpressCallbackArgs, check func(enc.Name, enc.Wire, ndn.Signature) bool) cmdResult {
	switch a.Result {
	case ndn.InterestResultData:
	case ndn.InterestResultTimeout:
		return cmdResult{err: ndn.ErrDeadlineExceed}
	case ndn.InterestResultNack:
		return cmdResult{err: fmt.Errorf("nack received: %v", a.NackReason)}
	default:
		return cmdResult{err: fmt.Errorf("command not answered: %v (%v)", a.Result, a.Error)}
	}
	if check != nil && !check(a.Data.Name(), a.SigCovered, a.Data.Signature()) {
		return cmdResult{err: errors.New("command answer's signature is not valid")}
	}
	resp, err := mgmt.ParseControlResponse(enc.NewWireView(a.Data.Content()), true)
	if err != nil {
		return cmdResult{err: fmt.Errorf("malformed command answer: %w", err)}
	}
	if resp.Val == nil {
		return cmdResult{err: errors.New("improper response")}
	}
	if resp.Val.StatusCode != 200 {
		return cmdResult{resp: resp, err: fmt.Errorf("command failed due to error %d: %s", resp.Val.StatusCode, resp.Val.StatusText)}
	}
	return cmdResult{resp: resp}
}

// do runs one command and waits for its answer (at most the Interest's
// lifetime and a margin, or until ctx or done ends).
func (m *commander) do(ctx context.Context, done <-chan struct{}, module, verb string, args *mgmt.ControlArgs) cmdResult {
	ch, err := m.send(module, verb, args)
	if err != nil {
		return cmdResult{err: err}
	}
	t := time.NewTimer(cmdLifetime + time.Second) // the engine's timeout fires first
	defer t.Stop()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return cmdResult{err: ctx.Err()}
	case <-done:
		return cmdResult{err: ErrClosed}
	case <-t.C:
		return cmdResult{err: ndn.ErrDeadlineExceed}
	}
}

// cmdEngine is the engine a Conn hands out: ndnd's, with the management
// commands going through the Conn's commander.
type cmdEngine struct {
	ndn.Engine
	c *Conn
}

// EngineTrait implements ndn.Engine: code that asks for the engine (ndnd's
// object client) gets this one, commands and all.
func (e cmdEngine) EngineTrait() ndn.Engine { return e }

// ExecMgmtCmd runs one command through the Conn (its key, its ordering,
// its retries of timeouts and transient refusals). It blocks: not for the
// engine goroutine.
func (e cmdEngine) ExecMgmtCmd(module, verb string, args any) (any, error) {
	a, ok := args.(*mgmt.ControlArgs)
	if !ok {
		return nil, ndn.ErrInvalidValue{Item: "args", Value: args}
	}
	resp, err := e.c.exec(context.Background(), module, verb, a)
	if resp == nil {
		return nil, err // a typed nil would look like an answer
	}
	return resp, err
}

// SetCmdSec sets the key that signs the Conn's later commands and the check
// of the forwarder's answers (nil: none, the default).
func (e cmdEngine) SetCmdSec(s ndn.Signer, check func(enc.Name, enc.Wire, ndn.Signature) bool) {
	e.c.cmd.setSigner(s, check)
}

// RegisterRoute routes prefix to this app (rib/register), once: unlike
// Conn.Register it is not remembered across reconnects.
func (e cmdEngine) RegisterRoute(prefix enc.Name) error {
	_, err := e.c.exec(context.Background(), "rib", "register", &mgmt.ControlArgs{Name: prefix})
	return err
}

// UnregisterRoute withdraws the route of prefix to this app (rib/unregister).
func (e cmdEngine) UnregisterRoute(prefix enc.Name) error {
	_, err := e.c.exec(context.Background(), "rib", "unregister", &mgmt.ControlArgs{Name: prefix})
	return err
}
