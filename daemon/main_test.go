package daemon

import (
	"os"
	"testing"

	"github.com/peets/peets/sync/synctest"
)

func TestMain(m *testing.M) { os.Exit(synctest.Main(m)) }
