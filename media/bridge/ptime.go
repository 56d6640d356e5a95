package bridge

import (
	"strconv"
	"strings"
)

// AudioPtime is the packetization the proxy asks of the page's audio
// (a=ptime in each audio section of what it sends the page): 40 ms of
// Opus per packet instead of the browser's 20. On NDN every packet is a
// Data with a name and a signature (~180 bytes on the wire) and costs an
// Interest the other way (~130 bytes): at 20 ms a 32 kbit/s voice takes
// ~120 kbit/s of the uplink and ~50 kbit/s of the other direction; at 40
// ms half of that overhead, for 20 ms more delay. Chromium's Opus encoder
// follows the remote description's ptime.
const AudioPtime = 40

// withAudioPtime adds "a=ptime:<ms>" to every audio section of sdp that
// has none (an SDP session description, CRLF or LF line ends kept).
func withAudioPtime(sdp string, ms int) string {
	if ms <= 0 {
		return sdp
	}
	nl := "\r\n"
	if !strings.Contains(sdp, "\r\n") {
		nl = "\n"
	}
	lines := strings.Split(sdp, nl)
	line := "a=ptime:" + strconv.Itoa(ms)
	var out []string
	audio, has := false, false
	flush := func() {
		if audio && !has {
			// after the section's last line (the split leaves "" at the end)
			i := len(out)
			for i > 0 && out[i-1] == "" {
				i--
			}
			out = append(out[:i], append([]string{line}, out[i:]...)...)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "m=") {
			flush()
			audio, has = strings.HasPrefix(l, "m=audio "), false
		}
		if strings.HasPrefix(l, "a=ptime:") {
			has = true
		}
		out = append(out, l)
	}
	flush()
	return strings.Join(out, nl)
}
