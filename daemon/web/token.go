package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// The page's secret. Every other local user can connect to a loopback
// port, and a non-browser client sets any Origin and Host it likes, so the
// Origin and Host checks keep other web sites out but not other programs.
// What keeps them out is a per-run token, as Jupyter does: random at
// start, part of the page URL the proxy prints, and required by the page,
// its WebSocket and the API.

// MinTokenLen is the shortest token Config.Token accepts: 26 characters
// of a base32 or base64url alphabet carry at least 128 bits when random.
const MinTokenLen = 26

// TokenParam is the name of the URL query parameter that carries the token.
const TokenParam = "token"

// NewToken returns a fresh random token: 26 base32 characters (130 bits),
// URL-safe.
func NewToken() string { return rand.Text() }

// checkToken validates a token given in Config.Token.
func checkToken(t string) error {
	if len(t) < MinTokenLen || len(t) > 256 {
		return fmt.Errorf("%w: %d characters (want %d to 256)", ErrBadToken, len(t), MinTokenLen)
	}
	for _, c := range []byte(t) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: only [A-Za-z0-9_-] may be used", ErrBadToken)
		}
	}
	return nil
}

// tokenCheck compares candidates with the token in constant time: both are
// hashed first, so how long a comparison takes depends neither on how many
// leading characters a candidate gets right nor on the token's length.
type tokenCheck struct{ sum [sha256.Size]byte }

func newTokenCheck(token string) tokenCheck { return tokenCheck{sum: sha256.Sum256([]byte(token))} }

func (c *tokenCheck) ok(candidate string) bool {
	s := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(s[:], c.sum[:]) == 1
}

// requestToken is the token a request carries: the query parameter (the
// page, its WebSocket) or an "Authorization: Bearer" header (scripts that
// call the API and keep the token out of URLs).
func requestToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return t
		}
	}
	return r.URL.Query().Get(TokenParam)
}
