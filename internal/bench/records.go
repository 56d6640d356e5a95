package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

// A worker keeps one record per RTP packet for the whole run. So that the
// bench's memory figures measure the proxy and not the bench, even over a
// long run (a 30-minute call is ~190,000 packets), the records go to a file
// as they come (each as JSON, through a 64 kB buffer) instead of staying in
// memory, and the report is assembled from that file at the end. Kept in
// memory they were most of a worker's peak RSS after a long run: ~100 MB
// after 380,000 packets as JSON values, ~42 MB as compact structs, against
// ~31 MB for the proxy itself.

// recordLog writes at most max records to a file. Not safe for concurrent
// use.
type recordLog struct {
	max  int
	n    int
	f    *os.File
	w    *bufio.Writer
	werr error
	buf  []byte
}

// appendRecord appends r's JSON (Record's tags, the same bytes as
// json.Marshal's for the identifiers stream ids are).
func appendRecord(b []byte, r Record) []byte {
	b = append(b, `{"s":`...)
	b = strconv.AppendQuote(b, r.Stream)
	b = append(b, `,"q":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, r.TimeNs, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(r.Size), 10)
	b = append(b, `,"h":`...)
	b = strconv.AppendUint(b, r.Hash, 10)
	if r.Key {
		b = append(b, `,"k":true`...)
	}
	return append(b, '}')
}

// newRecordLog creates file for the records.
func newRecordLog(file string, max int) (*recordLog, error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &recordLog{max: max, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// add writes r unless max records were written, and reports whether it did.
func (l *recordLog) add(r Record) bool {
	if l.n >= l.max || l.werr != nil {
		return false
	}
	// By hand, as json.Marshal would write it: the bench's own cost per
	// packet is counted in the proxies' CPU, so it is kept small.
	b := l.buf[:0]
	if l.n > 0 {
		b = append(b, ',')
	}
	b = appendRecord(b, r)
	l.buf = b
	_, err := l.w.Write(b)
	if err != nil {
		l.werr = err
		return false
	}
	l.n++
	return true
}

// len is the number of records written.
func (l *recordLog) len() int { return l.n }

// close removes the record file.
func (l *recordLog) close() {
	name := l.f.Name()
	l.f.Close()
	os.Remove(name)
}

// writeReport writes rep (whose Records are ignored) with the log's
// records as its "records" field, copied from the log's file.
func writeReport(file string, rep WorkerReport, recs *recordLog) (err error) {
	if err := recs.w.Flush(); err != nil {
		return err
	}
	if recs.werr != nil {
		return recs.werr
	}
	if _, err := recs.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	rep.Records = nil
	head, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	// head ends with `"records":null}` (the field is last and not
	// omitempty): the records go in its place.
	const tail = `"records":null`
	i := len(head) - 1 - len(tail)
	if i < 0 || string(head[i:len(head)-1]) != tail {
		return fmt.Errorf("bench worker: unexpected report layout %q", head)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	w.Write(head[:i])
	w.WriteString(`"records":[`)
	if _, err := io.Copy(w, recs.f); err != nil {
		return err
	}
	w.WriteString("]}")
	return w.Flush()
}
