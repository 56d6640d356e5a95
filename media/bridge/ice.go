package bridge

import (
	"strings"
	"time"
)

// maxICEWait bounds how long the page's offer waits for pion's ICE
// transport (see iceBehind); the wait normally lasts a scheduling delay.
const maxICEWait = 3 * time.Second

// iceCredentials returns the ICE username fragment and password an SDP
// carries (the first of each: under BUNDLE every m-line has the same), or
// empty strings.
func iceCredentials(sdp string) (ufrag, pwd string) {
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		} else if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
		if ufrag != "" && pwd != "" {
			break
		}
	}
	return ufrag, pwd
}

// iceBehind reports whether pion's ICE transport has not yet taken the
// credentials of the current remote description. pion's
// SetRemoteDescription hands them to the ICE agent later, on its
// operations goroutine; a remote offer applied before that differs from
// the agent's (still empty) credentials, so pion takes it for an ICE
// restart: it draws new local credentials, and its answer carries them
// although the page asked for no restart. Firefox refuses such an answer
// ("Remote description indicates ICE restart but offer did not request ICE
// restart"); Chromium restarts ICE. A page's offer that follows its answer
// at once (the page offers its camera right after answering, or after a
// collision) meets this on a busy proxy, which reads both together.
func (s *Session) iceBehind() bool {
	cur := s.pc.CurrentRemoteDescription()
	if cur == nil {
		return false // a first offer: pion starts the transport with it
	}
	ufrag, pwd := iceCredentials(cur.SDP)
	params, err := s.pc.SCTP().Transport().ICETransport().GetRemoteParameters()
	if err != nil {
		return false // closing: let pion report it
	}
	return params.UsernameFragment != ufrag || params.Password != pwd
}

// fromPage runs a signaling step of the page, in order: after the steps
// that wait for the ICE transport, if any.
func (s *Session) fromPage(step func()) {
	if len(s.waiting) > 0 {
		s.waiting = append(s.waiting, step)
		return
	}
	step()
}

// waitForICE makes the page's offer, and the page's steps after it, wait
// until the ICE transport has the current remote credentials. It reports
// false when the offer must go ahead now (it waited too long).
func (s *Session) waitForICE(offer func()) bool {
	if !s.behind() {
		return false
	}
	if s.iceWaitSince.IsZero() {
		s.iceWaitSince = time.Now()
	} else if time.Since(s.iceWaitSince) >= s.maxICEWait {
		s.log.Warn("ICE transport did not start: answering the page's offer anyway", "waited", time.Since(s.iceWaitSince).Round(time.Millisecond))
		return false
	}
	s.waiting = append([]func(){offer}, s.waiting...)
	s.st.offersDelayed.Add(1)
	s.log.Debug("the page's offer waits for the ICE transport")
	return true
}

// resumeFromPage runs the page's waiting steps once the ICE transport has
// caught up (or the wait is over).
func (s *Session) resumeFromPage() {
	if len(s.waiting) == 0 {
		return
	}
	if s.behind() && time.Since(s.iceWaitSince) < s.maxICEWait {
		return
	}
	steps := s.waiting
	s.waiting = nil
	for i, step := range steps {
		step()
		if len(s.waiting) > 0 { // the offer waits again
			s.waiting = append(s.waiting, steps[i+1:]...)
			return
		}
	}
	s.iceWaitSince = time.Time{}
}

// iceWaitDeadline is when the page's waiting offer goes ahead anyway, or
// zero.
func (s *Session) iceWaitDeadline() time.Time {
	if len(s.waiting) == 0 {
		return time.Time{}
	}
	return s.iceWaitSince.Add(s.maxICEWait)
}
