package bridge

import (
	"strings"
	"testing"
)

func TestWithAudioPtime(t *testing.T) {
	in := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=ptime:60\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:3\r\n"
	out := withAudioPtime(in, 40)
	sections := strings.Split(out, "m=")
	if len(sections) != 5 {
		t.Fatalf("%d sections:\n%s", len(sections), out)
	}
	for i, want := range []string{"", "a=ptime:40\r\n", "", "a=ptime:60\r\n", "a=ptime:40\r\n"} {
		if want == "" {
			if strings.Contains(sections[i], "a=ptime") {
				t.Errorf("section %d got a ptime:\n%s", i, sections[i])
			}
			continue
		}
		if strings.Count(sections[i], "a=ptime") != 1 || !strings.HasSuffix(sections[i], want) {
			t.Errorf("section %d: %q, want it to end with %q", i, sections[i], want)
		}
	}
	if strings.Contains(out, "\r\n\r\n") || !strings.HasSuffix(out, "\r\n") {
		t.Errorf("line ends broken: %q", out)
	}
	if got := withAudioPtime(in, 0); got != in {
		t.Error("ptime 0 changed the SDP")
	}
}
