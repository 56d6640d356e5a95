// Package netns makes Linux network namespaces for the benchmarks: it adds
// and deletes named namespaces and veth pairs with iproute2, runs commands
// inside a namespace, and opens sockets in one from this process (Dial,
// Listen, Do), so that a benchmark in the host's namespace can talk to a
// browser or a proxy whose loopback is the namespace's own. Only namespaces
// this package made are ever deleted. Linux only, and root only: on other
// systems every function returns ErrUnsupported.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Errors.
var (
	ErrUnsupported = errors.New("netns: network namespaces need Linux")
	ErrNotRoot     = errors.New("netns: network namespaces need root (run as root, e.g. with sudo)")
	ErrNoIP        = errors.New("netns: iproute2 (ip, tc) not found")
)

// Check says whether this process can make namespaces: Linux, root, and
// iproute2's ip and tc on the PATH.
func Check() error {
	if err := supported(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, b := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNoIP, b, err)
		}
	}
	return nil
}

// run runs a command and returns an error carrying its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// output runs a command and returns its standard output.
func output(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
