package media

import (
	"testing"
	"time"

	"github.com/peets/peets/sec"
)

// TestWithSec runs a stream signed by a sec.Identity and verified by a
// sec.Verifier, with the key pinned beforehand and with the certificate
// fetched on first use (the asynchronous verification path).
func TestWithSec(t *testing.T) {
	for _, pin := range []bool{true, false} {
		name := map[bool]string{true: "pinned", false: "fetched-cert"}[pin]
		t.Run(name, func(t *testing.T) {
			checkGoroutines(t)
			P := participant(t)
			id, err := sec.NewEphemeral(P)
			if err != nil {
				t.Fatal(err)
			}
			if err := id.ServeCert(conns[0].Engine()); err != nil {
				t.Fatal(err)
			}
			defer id.StopServing(conns[0].Engine())
			pub, _ := testPublisher(t, PublisherConfig{Participant: P, Signer: id.Signer()})
			first := publishN(t, pub, 1, 2, 0, 0) // a keyframe to start at

			v := sec.NewVerifier(conns[1].Engine(), testLog)
			if pin {
				if err := v.Pin(P, id.KeyName(), id.PublicKey()); err != nil {
					t.Fatal(err)
				}
			}
			col := newCollector()
			f := testFetcher(t, 1, pub, v, col, nil)
			runFetcher(t, f)
			time.Sleep(100 * time.Millisecond)
			want := append(first, publishN(t, pub, 2, 101, 50, 0)...)
			deadline := time.Now().Add(5 * time.Second)
			for col.count() < len(want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if col.count() < len(want) {
				if vs := v.Stats(); !pin && vs.CertFetches > 0 && vs.OK == 0 && vs.NoKey > 0 {
					// sec.Verifier's certificate Interest carries no Nonce
					// and YaNFD drops such Interests (reported to sec).
					t.Skipf("certificate fetch failed (sec issue), verifier %+v", vs)
				}
				t.Fatalf("%d packets: fetcher %+v\nverifier %+v", col.count(), f.Stats(), v.Stats())
			}
			checkAll(t, "sec", col, want)
			if st := f.Stats(); st.VerifyFailures != 0 {
				t.Errorf("verify failures: %+v", st)
			}
		})
	}
}
