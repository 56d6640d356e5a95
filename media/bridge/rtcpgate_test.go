package bridge

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/internal/testlog"
)

// TestCloseWritesNoRTCP: closing a session with a page that streams (its
// packets numbered for transport-cc, the feedback sent every millisecond
// to make the old race likely) makes no interceptor write RTCP on the
// closed transport, whichever side closes first: pion logs no error. Before
// the gate, about one close in five logged "twcc_sender_interceptor ERROR:
// io: read/write on closed pipe" at this interval.
func TestCloseWritesNoRTCP(t *testing.T) {
	var sink testlog.Buffer // pion's log lines
	lf := &logging.DefaultLoggerFactory{Writer: &sink, DefaultLogLevel: logging.LogLevelWarn, ScopeLevels: map[string]logging.LogLevel{}}
	api, err := NewAPI(APIConfig{LoggerFactory: lf, twccInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const pairs, rounds = 6, 4
	for r := range 2 * rounds {
		pageFirst := r%2 == 1
		type pair struct {
			page *fakePage
			sess *Session
			stop chan struct{}
			done chan struct{}
		}
		ps := make([]pair, pairs)
		for i := range ps {
			page := newFakePageWith(t, true, false)
			sess, err := NewSession(SessionConfig{API: api, ID: "p", Signal: page.signal})
			if err != nil {
				t.Fatal(err)
			}
			page.sess = sess
			track := page.addVideo()
			p := pair{page: page, sess: sess, stop: make(chan struct{}), done: make(chan struct{})}
			go func() {
				defer close(p.done)
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for seq := uint16(1); ; seq++ {
					select {
					case <-p.stop:
						return
					case <-tick.C:
					}
					_ = track.WriteRTP(vp8Packet(seq, uint32(seq)*3000, seq%50 == 1))
				}
			}()
			ps[i] = p
		}
		for _, p := range ps {
			eventually(t, 15*time.Second, "transport-cc feedback", func() bool {
				p.page.mu.Lock()
				defer p.page.mu.Unlock()
				return p.page.twccs > 0
			})
		}
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() {
				if pageFirst {
					_ = p.page.pc.Close() // DTLS close_notify: pion closes the session's side
					eventually(t, 5*time.Second, "closed by the page", func() bool {
						return p.sess.pc.ConnectionState() == webrtc.PeerConnectionStateClosed
					})
				}
				p.sess.Close()
				close(p.stop)
				<-p.done
				p.page.close()
			})
		}
		wg.Wait()
		if out := sink.String(); strings.Contains(out, "ERROR") || strings.Contains(out, "closed pipe") {
			t.Fatalf("page closes first %v: pion logged RTCP written after close:\n%s", pageFirst, out)
		}
	}
}
