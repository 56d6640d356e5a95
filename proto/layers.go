package proto

import (
	"errors"
	"fmt"
)

// TypeLayers tells the publishing page which encodings of its simulcast
// camera to send, server to page (data Layers): the proxy pauses the
// layers nobody has asked for lately and resumes one as soon as an
// Interest asks for it.
const TypeLayers = "layers"

// Layers is the data of layers: the rids of the encodings the page should
// send (RTCRtpEncodingParameters.active true); the greeting's other
// encodings are paused. The lowest is always listed. Sent when it changes.
type Layers struct {
	Active []string `json:"active"`
}

var errBadLayers = errors.New("bad layers data")

func (l *Layers) validate() error {
	if len(l.Active) > MaxSimulcastLayers {
		return fmt.Errorf("%w: %d layers (max %d)", errBadLayers, len(l.Active), MaxSimulcastLayers)
	}
	seen := map[string]bool{}
	for _, rid := range l.Active {
		if !ridRe.MatchString(rid) || seen[rid] {
			return fmt.Errorf("%w: rid %q", errBadLayers, truncate(rid, MaxIDLen))
		}
		seen[rid] = true
	}
	return nil
}
