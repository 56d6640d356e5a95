package forwarder

import (
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"
)

// BenchmarkInterestData measures pipelined Interest/Data exchanges (1200-byte
// SHA-256 signed Data, 64 outstanding) through the embedded forwarder, with
// producer and consumer both on in-process faces, or both on its unix socket.
//
//	go test -run XXX -bench InterestData -benchtime 20000x ./daemon/forwarder/
func BenchmarkInterestData(b *testing.B) {
	dir := b.TempDir()
	a := openT(b, Options{URI: URIEmbedded, StateDir: dir})
	for _, mode := range []string{"inproc", "unix"} {
		b.Run(mode, func(b *testing.B) {
			uri := URIEmbedded
			if mode == "unix" {
				uri = "unix://" + a.SocketPath()
			}
			prod := openT(b, Options{URI: uri, StateDir: dir})
			cons := openT(b, Options{URI: uri, StateDir: dir})
			prefix := name(b, "/bench/"+mode)
			payload := make([]byte, 1200)
			signer := sig.NewSha256Signer()
			pe := prod.Engine()
			if err := pe.AttachHandler(prefix, func(args ndn.InterestHandlerArgs) {
				d, err := pe.Spec().MakeData(args.Interest.Name(), &ndn.DataConfig{}, enc.Wire{payload}, signer)
				if err == nil {
					_ = args.Reply(d.Wire)
				}
			}); err != nil {
				b.Fatal(err)
			}
			if err := prod.Register(ctxT(b), prefix); err != nil {
				b.Fatal(err)
			}
			ce := cons.Engine()
			const window = 64
			slots := make(chan struct{}, window)
			var ok, bad atomic.Int64
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				slots <- struct{}{}
				n := prefix.Append(enc.NewSequenceNumComponent(uint64(i)))
				in, err := ce.Spec().MakeInterest(n, &ndn.InterestConfig{
					Lifetime: optional.Some(2 * time.Second),
					Nonce:    utils.ConvertNonce(ce.Timer().Nonce()),
				}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				_ = ce.Express(in, func(r ndn.ExpressCallbackArgs) {
					if r.Result == ndn.InterestResultData {
						ok.Add(1)
					} else {
						bad.Add(1)
					}
					<-slots
				})
			}
			for range window {
				slots <- struct{}{}
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(ok.Load())/el.Seconds(), "data/s")
			b.ReportMetric(float64(bad.Load()), "failed")
			if bad.Load() > int64(b.N)/100 {
				b.Fatalf("%d of %d Interests failed", bad.Load(), b.N)
			}
			cons.Close()
			prod.Close()
		})
	}
}
