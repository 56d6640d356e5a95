package proto

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"reflect"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	spec_svs "github.com/named-data/ndnd/std/ndn/svs/v3"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

func mustName(t testing.TB, s string) enc.Name {
	t.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testVector(t testing.TB) StateVector {
	return StateVector{
		{Name: mustName(t, "/peets/user/bob/lab"), Boots: []SVBoot{{Boot: 1700000000, Seq: 7}}},
		{Name: mustName(t, "/peets/user/alice/lab"), Boots: []SVBoot{{Boot: 1700000001, Seq: 300}, {Boot: 1600000000, Seq: math.MaxUint64}}},
	}
}

func TestSyncDataRoundTrip(t *testing.T) {
	group := mustName(t, "/peets/room/lab")
	sv := testVector(t)
	wire := EncodeSyncData(group, sv, [8]byte{1, 2, 3})
	got, err := DecodeSyncData(wire, group)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 {
		t.Fatalf("version %d", got.Version)
	}
	// canonical order (shorter components first: bob before alice), boots
	// ascending
	want := StateVector{
		sv[0],
		{Name: sv[1].Name, Boots: []SVBoot{sv[1].Boots[1], sv[1].Boots[0]}},
	}
	if len(got.Vector) != 2 {
		t.Fatalf("got %v", got.Vector)
	}
	for i := range want {
		if !got.Vector[i].Name.Equal(want[i].Name) || !reflect.DeepEqual(got.Vector[i].Boots, want[i].Boots) {
			t.Fatalf("entry %d: got %v want %v", i, got.Vector[i], want[i])
		}
	}
	if n := EncodedSVEntrySize(sv[0]) + EncodedSVEntrySize(sv[1]); n+2 != len(EncodeStateVector(sv)) {
		t.Fatalf("EncodedSVEntrySize sums to %d, vector is %d bytes", n, len(EncodeStateVector(sv)))
	}
	// Another group's Data is refused.
	if _, err := DecodeSyncData(wire, mustName(t, "/peets/room/other")); !errors.Is(err, ErrBadSync) {
		t.Fatalf("other group: %v", err)
	}
}

// ndnd v1.5.3 must read what Peets sends, and Peets what ndnd v1.5.3 sends
// (its Data is named G/v=<microseconds>).
func TestSyncDataNdndInterop(t *testing.T) {
	group := mustName(t, "/peets/room/lab")
	sv := testVector(t)
	data, covered, err := spec.Spec{}.ReadData(enc.NewBufferView(EncodeSyncData(group, sv, [8]byte{1, 2, 3})))
	if err != nil {
		t.Fatal(err)
	}
	if !data.Name().Equal(SyncInterestPrefix(group)) {
		t.Fatalf("name %s", data.Name())
	}
	if st := data.Signature().SigType(); st != ndn.SignatureDigestSha256 {
		t.Fatalf("sig type %v", st)
	}
	// ndnd skips the SignatureNonce of a Data (non-critical) and checks
	// the digest over what the signature covers, the nonce included.
	if sum := sha256.Sum256(covered.Join()); !bytes.Equal(sum[:], data.Signature().SigValue()) {
		t.Fatal("ndnd's signed portion does not match the digest")
	}
	// Two vectors alike, two nonces: two sync Interest names.
	if bytes.Equal(EncodeSyncData(group, sv, [8]byte{1}), EncodeSyncData(group, sv, [8]byte{2})) {
		t.Fatal("the nonce does not change the Data")
	}
	parsed, err := spec_svs.ParseSvsData(enc.NewBufferView(data.Content().Join()), false)
	if err != nil || parsed.StateVector == nil || len(parsed.StateVector.Entries) != 2 {
		t.Fatalf("ndnd parse: %v %+v", err, parsed)
	}

	theirs := &spec_svs.StateVector{Entries: []*spec_svs.StateVectorEntry{{
		Name:         sv[0].Name,
		SeqNoEntries: []*spec_svs.SeqNoEntry{{BootstrapTime: 1700000000, SeqNo: 7}},
	}}}
	d, err := spec.Spec{}.MakeData(group.WithVersion(enc.VersionUnixMicro), &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeBlob),
	}, (&spec_svs.SvsData{StateVector: theirs}).Encode(), signer.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSyncData(d.Wire.Join(), group)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version < 1e15 || len(got.Vector) != 1 || got.Vector[0].Boots[0] != (SVBoot{1700000000, 7}) {
		t.Fatalf("got %+v", got)
	}
}

// syncData builds a sync Data by hand: name components, content, signature
// type; a DigestSha256 signature is computed unless sigVal is given.
func syncData(name, content []byte, sigType byte, sigVal []byte) []byte {
	signed := append(append([]byte(nil), name...), content...)
	signed = append(signed, tlvOf(ttSignatureInfo, tlvOf(ttSignatureType, []byte{sigType}))...)
	if sigVal == nil && sigType == sigDigestSha256 {
		s := sha256.Sum256(signed)
		sigVal = s[:]
	}
	return tlvOf(ttData, append(signed, tlvOf(ttSignatureValue, sigVal)...))
}

func tlvOf(typ uint64, v ...[]byte) []byte {
	val := bytes.Join(v, nil)
	return append(appendTL(nil, typ, len(val)), val...)
}

func TestDecodeSyncDataRejects(t *testing.T) {
	group := mustName(t, "/g")
	gName := SyncInterestPrefix(group).Bytes()
	entry := func(name []byte, boots ...[]byte) []byte {
		return tlvOf(TTSVEntry, append([][]byte{name}, boots...)...)
	}
	sne := func(boot, seq uint64) []byte {
		return tlvOf(TTSeqNoEntry, appendNNI(nil, TTBootstrapTime, boot), appendNNI(nil, TTSeqNo, seq))
	}
	content := func(entries ...[]byte) []byte {
		return tlvOf(ttContent, tlvOf(TTStateVector, entries...))
	}
	alice := mustName(t, "/a/lab").Bytes()
	good := syncData(gName, content(entry(alice, sne(1, 2))), sigDigestSha256, nil)
	if _, err := DecodeSyncData(good, group); err != nil {
		t.Fatalf("good: %v", err)
	}
	// The crash packet of the issue: a name component of length 2^63+1
	// inside the Data of the ApplicationParameters.
	bomb := append([]byte{ttName, 13, 0x08, 0xff}, 0x80, 0, 0, 0, 0, 0, 0, 1, 'x', 'y', 'z')
	nulls := syncData(gName, content(entry(alice, sne(1, 2))), sigNull, []byte{})
	if _, err := DecodeSyncData(nulls, group); err != nil {
		t.Fatalf("Null signature (NDNts): %v", err)
	}
	many := make([][]byte, MaxSVEntries+1)
	for i := range many {
		many[i] = entry(mustName(t, "/a/lab").Append(enc.NewSequenceNumComponent(uint64(i))).Bytes(), sne(1, 1))
	}
	cases := map[string][]byte{
		"empty":         nil,
		"bomb in name":  tlvOf(ttData, bomb),
		"bomb in entry": syncData(gName, content(entry(bomb, sne(1, 2))), sigDigestSha256, nil),
		"bad digest":    syncData(gName, content(entry(alice, sne(1, 2))), sigDigestSha256, make([]byte, 32)),
		"ed25519 sig":   syncData(gName, content(entry(alice, sne(1, 2))), 5, make([]byte, 64)),
		"wrong group":   syncData(mustName(t, "/h/v=3").Bytes(), content(entry(alice, sne(1, 2))), sigDigestSha256, nil),
		"no version":    syncData(mustName(t, "/g/x").Bytes(), content(entry(alice, sne(1, 2))), sigDigestSha256, nil),
		"trailing":      append(append([]byte(nil), good...), 0),
		"two vectors":   syncData(gName, tlvOf(ttContent, tlvOf(TTStateVector), tlvOf(TTStateVector)), sigDigestSha256, nil),
		"no seqnoentry": syncData(gName, content(entry(alice)), sigDigestSha256, nil),
		"seq without boot": syncData(gName, content(entry(alice, tlvOf(TTSeqNoEntry, appendNNI(nil, TTSeqNo, 1)))),
			sigDigestSha256, nil),
		"3-byte number": syncData(gName, content(entry(alice, tlvOf(TTSeqNoEntry, appendNNI(nil, TTBootstrapTime, 1),
			tlvOf(TTSeqNo, []byte{0, 0, 1})))), sigDigestSha256, nil),
		"empty name":         syncData(gName, content(entry(tlvOf(ttName), sne(1, 2))), sigDigestSha256, nil),
		"too many entries":   syncData(gName, content(many...), sigDigestSha256, nil),
		"critical unknown":   syncData(gName, content(entry(alice, sne(1, 2)), tlvOf(0xcb)), sigDigestSha256, nil),
		"long length":        {ttData, 0xfd, 0x00, 0x05, ttName, 3, 8, 1, 'a'},
		"huge length":        {ttData, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1},
		"ContentType KEY":    syncData(append(gName, tlvOf(ttMetaInfo, tlvOf(ttContentType, []byte{2}))...), content(entry(alice, sne(1, 2))), sigDigestSha256, nil),
		"sig info missing":   tlvOf(ttData, gName, content(entry(alice, sne(1, 2)))),
		"component type 0":   syncData(gName, content(entry(tlvOf(ttName, tlvOf(0x100, []byte("x"))[0:0], []byte{0, 1, 'x'}), sne(1, 2))), sigDigestSha256, nil),
		"interest, not data": tlvOf(0x05, gName),
	}
	for name, b := range cases {
		if _, err := DecodeSyncData(b, group); !errors.Is(err, ErrBadSync) {
			t.Errorf("%s: want ErrBadSync, got %v", name, err)
		}
	}
	// Non-critical unknown elements are skipped; repeated boots keep the max.
	ok := syncData(gName, content(entry(alice, sne(1, 2), sne(1, 9), tlvOf(0xfd00)), tlvOf(0xfd02)), sigDigestSha256, nil)
	got, err := DecodeSyncData(ok, group)
	if err != nil || len(got.Vector) != 1 || !reflect.DeepEqual(got.Vector[0].Boots, []SVBoot{{1, 9}}) {
		t.Fatalf("non-critical: %v %+v", err, got)
	}
}

// FuzzDecodeSyncData: never panics; what it accepts re-encodes to a vector
// that decodes to the same entries.
//
//	go test -run XXX -fuzz FuzzDecodeSyncData -fuzztime 60s ./proto/
func FuzzDecodeSyncData(f *testing.F) {
	group := mustName(f, "/peets/room/lab")
	f.Add(EncodeSyncData(group, testVector(f), [8]byte{}))
	f.Add(EncodeSyncData(group, nil, [8]byte{9}))
	f.Add([]byte{ttData, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeSyncData(b, group)
		if err != nil {
			if !errors.Is(err, ErrBadSync) {
				t.Fatalf("error does not wrap ErrBadSync: %v", err)
			}
			return
		}
		again, err := DecodeSyncData(EncodeSyncData(group, got.Vector, [8]byte{}), group)
		if err != nil || len(again.Vector) != len(got.Vector) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}
