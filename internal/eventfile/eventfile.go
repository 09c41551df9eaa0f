// Package eventfile reads events from local files, for `tandem job test` and for reference
// data: a JSON array of objects, JSON lines (one object per line) or CSV with a header line.
// Errors name the file and line and say what the file must look like. A file is read up to a
// size limit (Limits), and reference data only from regular files.
package eventfile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// Event is one event of a file and the line it starts on.
type Event struct {
	Line  int
	Value sqlval.Value
}

// DefaultMaxBytes is the largest file Read reads.
const DefaultMaxBytes = 64 << 20

// Limits bound what ReadWith reads.
type Limits struct {
	// MaxBytes is the largest file read; a larger one is refused before it is read. Zero
	// means DefaultMaxBytes.
	MaxBytes int64
	// RegularOnly refuses anything but a regular file (a device such as /dev/zero, a pipe, a
	// socket, a directory), checked before the file is opened and again on the open file.
	RegularOnly bool
	// Flag names the setting that raises MaxBytes, for the error message (e.g.
	// "--job-reference-max-bytes").
	Flag string
}

// Read reads the events of a file of at most DefaultMaxBytes: CSV for *.csv, else a JSON array
// of objects or JSON lines, told apart by the first non-space character. A device or pipe is
// read up to the same bound.
func Read(path string) ([]Event, error) { return ReadWith(path, Limits{}) }

// ReadWith is Read with limits.
func ReadWith(path string, l Limits) ([]Event, error) {
	data, err := readFile(path, l)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ParseCSV(path, data)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		return readJSONArrayEvents(path, data)
	}
	return readJSONLineEvents(path, data)
}

// readFile reads at most l.MaxBytes of path, refusing a larger file (and, with RegularOnly, a
// file that is not regular) before reading it.
func readFile(path string, l Limits) ([]byte, error) {
	limit := l.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if l.RegularOnly {
		// Stat first: opening a FIFO would block until a writer comes.
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			return nil, notRegular(path, fi)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "read event file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "read event file: %w", err)
	}
	if l.RegularOnly && !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	if fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, tooLarge(path, fi.Size(), limit, l.Flag)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "read event file: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, -1, limit, l.Flag)
	}
	return data, nil
}

func notRegular(path string, fi os.FileInfo) error {
	return errcode.New(errcode.InvalidArgument,
		"%s is not a regular file (it is a %s); reference data must be a regular JSON, JSON-lines or CSV file", path, fileKind(fi.Mode()))
}

// tooLarge says that path is over limit; size is its size, or -1 when only known to be larger.
func tooLarge(path string, size, limit int64, flag string) error {
	raise := "use a smaller file"
	if flag != "" {
		raise = "use a smaller file or raise " + flag
	}
	is := fmt.Sprintf("is %d bytes", size)
	if size < 0 {
		is = "is larger than that"
	}
	return errcode.New(errcode.QuotaExceeded, "%s %s, over the limit of %d bytes (%d MiB) for an event file; %s",
		path, is, limit, limit>>20, raise)
}

// fileKind names a file's type for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

func readJSONLineEvents(path string, data []byte) ([]Event, error) {
	var out []Event
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		v, err := sqlval.ParseJSON(line)
		if err == nil && v.Kind() != sqlval.KindRecord {
			err = fmt.Errorf("found a JSON %s, not an object", v.Kind())
		}
		if err != nil {
			return nil, errcode.New(errcode.InvalidArgument, "%s line %d: %v; each line must be one JSON object (or make the file one JSON array of objects)", path, i+1, err)
		}
		out = append(out, Event{Line: i + 1, Value: v})
	}
	return out, nil
}

func readJSONArrayEvents(path string, data []byte) ([]Event, error) {
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(off, int64(len(data)))], []byte("\n")) }
	fail := func(off int64, err error) ([]Event, error) {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		return nil, errcode.New(errcode.InvalidArgument, "%s line %d: %v; the file must be one JSON array of objects (or one JSON object per line)", path, lineAt(off), err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the '['
		return fail(dec.InputOffset(), fmt.Errorf("invalid JSON: %w", err))
	}
	var out []Event
	for dec.More() {
		start := dec.InputOffset()
		for start < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(start, fmt.Errorf("invalid JSON: %w", err))
		}
		v, err := sqlval.ParseJSON(raw)
		if err == nil && v.Kind() != sqlval.KindRecord {
			err = fmt.Errorf("array element %d is a JSON %s, not an object", len(out)+1, v.Kind())
		}
		if err != nil {
			return fail(start, err)
		}
		out = append(out, Event{Line: lineAt(start), Value: v})
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return fail(dec.InputOffset(), fmt.Errorf("invalid JSON: %w", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(dec.InputOffset(), errors.New("invalid JSON: more data after the array"))
	}
	return out, nil
}

// ParseCSV reads CSV with a header line: a file, or one event body (path names it in errors).
// A value that is a JSON number becomes a
// number (as sqlval.ParseJSON maps it), any other value a string.
func ParseCSV(path string, data []byte) ([]Event, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	for i, h := range header {
		if h == "" || slices.Contains(header[:i], h) {
			return nil, errcode.New(errcode.InvalidArgument, "%s line 1: column %d of the header is empty or repeated (%q); the first line must name every column once", path, i+1, h)
		}
	}
	var out []Event
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		line, _ := r.FieldPos(0)
		fields := make([]sqlval.Field, len(rec))
		for i, s := range rec {
			fields[i] = sqlval.Field{Name: header[i], Value: csvValue(s)}
		}
		out = append(out, Event{Line: line, Value: sqlval.Record(fields)})
	}
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return errcode.New(errcode.InvalidArgument, "%s line %d: invalid CSV: %v; the first line is the header and every line has its number of values", path, pe.Line, pe.Err)
	}
	return errcode.New(errcode.InvalidArgument, "%s: invalid CSV: %v", path, err)
}

func csvValue(s string) sqlval.Value {
	if isJSONNumber(s) {
		if v, err := sqlval.ParseJSONString(s); err == nil {
			return v
		}
	}
	return sqlval.String(s)
}

// isJSONNumber reports whether s is a number in JSON syntax: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
