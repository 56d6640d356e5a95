package e2etest

import "testing"

// Impostor is the impostor test program ($PEETS_IMPOSTOR, else built once):
// see ./impostor.
func Impostor(t testing.TB) string {
	return build(t, "PEETS_IMPOSTOR", "impostor", "./internal/e2etest/impostor")
}
