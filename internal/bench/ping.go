package bench

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/daemon/forwarder"
)

// pingRTT measures n plain Interest/Data round trips (1200-byte content,
// SHA-256 digest signature, one at a time) between two fresh connections
// through the forwarder at uri, in ms.
func pingRTT(ctx context.Context, uri string, n int, log *slog.Logger) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pc, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: log})
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	cc, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: log})
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	prefix, _ := enc.NameFromStr(fmt.Sprintf("/peets-bench/ping/%d", time.Now().UnixNano()))
	content := enc.Wire{make([]byte, 1200)}
	sg := signer.NewSha256Signer()
	pe := pc.Engine()
	err = pe.AttachHandler(prefix, func(a ndn.InterestHandlerArgs) {
		d, err := pe.Spec().MakeData(a.Interest.Name(), &ndn.DataConfig{Freshness: optional.Some(time.Millisecond)}, content, sg)
		if err == nil {
			_ = a.Reply(d.Wire)
		}
	})
	if err != nil {
		return nil, err
	}
	defer pe.DetachHandler(prefix)
	if err := pc.Register(ctx, prefix); err != nil {
		return nil, err
	}
	ce := cc.Engine()
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		name := prefix.Append(enc.NewSequenceNumComponent(uint64(i)))
		intr, err := ce.Spec().MakeInterest(name, &ndn.InterestConfig{
			Lifetime: optional.Some(time.Second), Nonce: utils.ConvertNonce(ce.Timer().Nonce()),
		}, nil, nil)
		if err != nil {
			return nil, err
		}
		done := make(chan ndn.InterestResult, 1)
		t0 := time.Now()
		if err := ce.Express(intr, func(a ndn.ExpressCallbackArgs) { done <- a.Result }); err != nil {
			return nil, err
		}
		select {
		case r := <-done:
			if r == ndn.InterestResultData {
				out = append(out, float64(time.Since(t0).Microseconds())/1000)
			}
		case <-ctx.Done():
			return out, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
	if len(out) < n/2 {
		return out, fmt.Errorf("only %d of %d pings answered", len(out), n)
	}
	return out, nil
}
