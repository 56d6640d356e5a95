package nfdtools

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFind: $PEETS_NFD first, else shared/tools/nfd with its bin/nfd in
// the directory given or a parent of it.
func TestFind(t *testing.T) {
	root := t.TempDir()
	tools := filepath.Join(root, "shared", "tools", "nfd")
	if err := os.MkdirAll(filepath.Join(tools, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "work", "repo", "e2e")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PEETS_NFD", "")
	if got := Find(deep); got != "" {
		t.Fatalf("found %q without bin/nfd", got)
	}
	if err := os.WriteFile(filepath.Join(tools, "bin", "nfd"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Find(deep); got != tools {
		t.Fatalf("found %q, want %q", got, tools)
	}
	t.Setenv("PEETS_NFD", "/opt/nfd")
	if got := Find(deep); got != "/opt/nfd" {
		t.Fatalf("with PEETS_NFD: %q", got)
	}
}
