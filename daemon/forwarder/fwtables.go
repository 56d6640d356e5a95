package forwarder

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	fw_fw "github.com/named-data/ndnd/fw/fw"
	"github.com/named-data/ndnd/fw/table"
)

// Two of YaNFD's tables grow without bound in ndnd v1.5.3, and nothing a
// face can send reaches them: only reaching into the forwarding thread's
// unexported fields does. This is the package's one use of reflect and
// unsafe on ndnd internals, kept to the least that works:
//
//   - The CS's LRU (table.CsLRU) keeps a map from name hash to list element
//     (locations). EvictEntries removes the evicted element from its list
//     but never deletes its key, so every name ever cached keeps an entry
//     (~90 bytes). CsLRU.BeforeErase, exported (the management's cs/erase
//     would call it; it is a TODO in v1.5.3), deletes a key, and for an
//     element already out of the list its list.Remove does nothing.
//   - The dead nonce list (table.DeadNonceList) expires at most 100 entries
//     per 100 ms tick (RemoveExpiredEntries), and every Interest forwarded
//     and satisfied inserts one: above 1,000 a second it grows for ever.
//     RemoveExpiredEntries is exported.
//
// Both are the forwarding thread's own, with no lock: they may be touched
// only on that thread's goroutine. The one place where our code runs there
// is the forwarder's log: the thread logs a warning when an Interest under
// /localhost comes from a non-local face (fw/fw/thread.go,
// processIncomingInterest, before the PIT), synchronously, through
// logBridge.Write. The sweeper sends such a "pulse" Interest on a non-local
// link of its own after each round (no network face can: the validator
// drops /localhost names from the network), and the bridge, seeing the
// pulse's warning, calls fwTables.clean there, on the thread: the LRU keys of
// the names the round swept whose CS entry is gone are erased, and the dead
// nonce list is expired to the end.
//
// The fields are found by name and type once the forwarder runs
// (findFwTables); if ndnd's layout ever differs, nothing is touched and the
// Conn's stats say so (TestFwTablesFound fails first).

// fwTables is what the sweeper reaches of YaNFD's single forwarding thread.
type fwTables struct {
	lru   *table.CsLRU
	locs  reflect.Value // CsLRU.locations, map[uint64]*list.Element: read only (its size)
	csMap reflect.Value // PitCsTree.csMap, map[uint64]*nameTreeCsEntry: read only
	dnl   *table.DeadNonceList
	dnlN  reflect.Value // DeadNonceList.list, map[uint64]bool: read only (its size)
}

// maxDNLExpiries bounds the RemoveExpiredEntries calls of one clean (100
// entries each).
const maxDNLExpiries = 64

// errFwLayout: YaNFD's forwarding thread is not laid out as expected.
var errFwLayout = errors.New("embedded forwarder: unexpected layout of the forwarding thread's tables")

// findFwTables finds the tables of the forwarding thread of a running
// YaNFD. Only pointers set before the thread started are read here; the
// tables themselves are touched only by clean, on the thread.
func findFwTables() (*fwTables, error) {
	if len(fw_fw.Threads) != 1 || fw_fw.Threads[0] == nil {
		return nil, fmt.Errorf("%w: %d forwarding threads", errFwLayout, len(fw_fw.Threads))
	}
	th := reflect.ValueOf(fw_fw.Threads[0]).Elem()
	pit := field(th, "pitCS", reflect.Interface)
	if !pit.IsValid() || pit.IsNil() || pit.Elem().Type() != reflect.TypeFor[*table.PitCsTree]() {
		return nil, fmt.Errorf("%w: Thread.pitCS", errFwLayout)
	}
	tree := pit.Elem().Elem()
	repl := field(tree, "csReplacement", reflect.Interface)
	if !repl.IsValid() || repl.IsNil() || repl.Elem().Type() != reflect.TypeFor[*table.CsLRU]() {
		return nil, fmt.Errorf("%w: PitCsTree.csReplacement", errFwLayout)
	}
	locs := field(repl.Elem().Elem(), "locations", reflect.Map)
	if !locs.IsValid() || locs.Type().Key().Kind() != reflect.Uint64 {
		return nil, fmt.Errorf("%w: CsLRU.locations", errFwLayout)
	}
	csMap := field(tree, "csMap", reflect.Map)
	if !csMap.IsValid() || csMap.Type().Key().Kind() != reflect.Uint64 {
		return nil, fmt.Errorf("%w: PitCsTree.csMap", errFwLayout)
	}
	dnl := field(th, "deadNonceList", reflect.Pointer)
	if !dnl.IsValid() || dnl.IsNil() || dnl.Type() != reflect.TypeFor[*table.DeadNonceList]() {
		return nil, fmt.Errorf("%w: Thread.deadNonceList", errFwLayout)
	}
	dnlN := field(dnl.Elem(), "list", reflect.Map)
	if !dnlN.IsValid() {
		return nil, fmt.Errorf("%w: DeadNonceList.list", errFwLayout)
	}
	return &fwTables{
		// (the values came from unexported fields: reflect lets them be
		// read but not used; their types were checked above)
		lru:   (*table.CsLRU)(unsafe.Pointer(repl.Elem().Pointer())),
		locs:  locs,
		csMap: csMap,
		dnl:   (*table.DeadNonceList)(unsafe.Pointer(dnl.Pointer())),
		dnlN:  dnlN,
	}, nil
}

// field returns the field name of the struct v if it has that kind, else
// the zero Value.
func field(v reflect.Value, name string, kind reflect.Kind) reflect.Value {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != kind {
		return reflect.Value{}
	}
	return f
}

// clean erases the LRU keys of the names hashes whose CS entry is gone,
// and expires the dead nonce list. It must run on the forwarding thread
// (see above). It returns how many keys and nonces it removed.
func (t *fwTables) clean(hashes []uint64) (keys, nonces int) {
	for _, h := range hashes {
		if t.csMap.MapIndex(reflect.ValueOf(h)).IsValid() {
			continue // cached again since: its LRU element is live
		}
		// BeforeErase deletes the key; the element is out of the list
		// already (evicted), so its Remove does nothing.
		n := t.locs.Len()
		t.lru.BeforeErase(h, nil)
		keys += n - t.locs.Len()
	}
	for range maxDNLExpiries {
		n := t.dnlN.Len()
		t.dnl.RemoveExpiredEntries()
		removed := n - t.dnlN.Len()
		nonces += removed
		if removed < 100 { // it stops at 100: fewer means none left
			break
		}
	}
	return keys, nonces
}
