package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The file sink's line format, one row per line:
//
//	{"ts":"2024-05-01T12:00:00.0000000Z","key":"d1","row":{"DeviceId":"d1","Count":3}}
//
// ts is the row's time in RFC 3339 with exactly seven fractional digits (100 ns ticks), key is
// the row key as a JSON string, row is the row's JSON object. The encoder always writes this
// canonical shape; the decoder reads it on a fast path and falls back to a full JSON decode for
// anything else (other field order, spaces, escapes in the key), so a file edited by hand or
// written by another tool still reads if it holds the same three fields.

// tsLayout formats Row.Time; the trailing Z is a literal (UTC).
const tsLayout = "2006-01-02T15:04:05.0000000Z"

// Prefixes of the canonical line, between the values.
const (
	lineTS  = `{"ts":"`
	lineKey = `","key":"`
	lineRow = `","row":`
)

// appendLine appends r as one line with its newline. r must have passed checkRows.
func appendLine(buf []byte, r *Row) []byte {
	buf = append(buf, lineTS...)
	buf = TicksTime(r.Time).AppendFormat(buf, tsLayout)
	buf = append(buf, lineKey...)
	buf = appendJSONStringBody(buf, r.Key)
	buf = append(buf, lineRow...)
	data := bytes.TrimSpace(r.Data)
	if bytes.IndexAny(data, "\r\n") >= 0 {
		// Newlines outside strings are insignificant whitespace (JSON strings cannot hold raw
		// ones); compact so the row stays on one line.
		var b bytes.Buffer
		_ = json.Compact(&b, data) // data is valid JSON: checkRows said so
		data = b.Bytes()
	}
	buf = append(buf, data...)
	return append(buf, '}', '\n')
}

// appendJSONStringBody appends s as the inside of a JSON string: quote, backslash and control
// characters escaped, everything else (valid UTF-8) as is.
func appendJSONStringBody(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// decodeLine decodes one line (without its newline). The returned Data aliases line.
func decodeLine(line []byte) (Row, error) {
	if r, ok := decodeCanonical(line); ok {
		return r, nil
	}
	return decodeGeneral(line)
}

// decodeCanonical is the fast path: the exact shape appendLine writes, with a key that has no
// escapes. ok is false for anything else; decodeGeneral then decides.
func decodeCanonical(line []byte) (Row, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(lineTS))
	if !ok || len(rest) < len(tsLayout) {
		return Row{}, false
	}
	ts, err := parseTS(rest[:len(tsLayout)])
	if err != nil {
		return Row{}, false
	}
	rest, ok = bytes.CutPrefix(rest[len(tsLayout):], []byte(lineKey))
	if !ok {
		return Row{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return Row{}, false
	}
	key := rest[:end]
	for _, c := range key {
		if c < 0x20 || c == '\\' {
			return Row{}, false
		}
	}
	if !utf8.Valid(key) {
		return Row{}, false
	}
	rest, ok = bytes.CutPrefix(rest[end:], []byte(lineRow))
	if !ok || len(rest) < 3 || rest[len(rest)-1] != '}' {
		return Row{}, false
	}
	data := rest[:len(rest)-1]
	if data[0] != '{' || data[len(data)-1] != '}' || !json.Valid(data) {
		return Row{}, false
	}
	return Row{Time: ts, Key: string(key), Data: data}, true
}

// decodeGeneral decodes any JSON object with exactly the fields ts, key and row.
func decodeGeneral(line []byte) (Row, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return Row{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if fields == nil || len(fields) != 3 || fields["ts"] == nil || fields["key"] == nil || fields["row"] == nil {
		return Row{}, errors.New(`not a row: want exactly the fields "ts", "key" and "row"`)
	}
	var ts, key string
	if err := json.Unmarshal(fields["ts"], &ts); err != nil {
		return Row{}, fmt.Errorf(`"ts" is not a string: %w`, err)
	}
	t, err := parseTS([]byte(ts))
	if err != nil {
		return Row{}, err
	}
	if err := json.Unmarshal(fields["key"], &key); err != nil {
		return Row{}, fmt.Errorf(`"key" is not a string: %w`, err)
	}
	if strings.IndexByte(key, 0) >= 0 {
		return Row{}, errors.New(`"key" contains NUL`)
	}
	data := []byte(fields["row"])
	if len(data) == 0 || data[0] != '{' {
		return Row{}, errors.New(`"row" is not a JSON object`)
	}
	return Row{Time: t, Key: key, Data: data}, nil
}

// parseTS parses a canonical timestamp: exactly tsLayout, which formats back to the same bytes.
func parseTS(b []byte) (int64, error) {
	if len(b) != len(tsLayout) {
		return 0, fmt.Errorf("time %q is not of the form %s", b, tsLayout)
	}
	t, err := time.Parse(tsLayout, string(b))
	if err != nil {
		return 0, fmt.Errorf("time %q is not of the form %s: %w", b, tsLayout, err)
	}
	var back [len(tsLayout)]byte
	if !bytes.Equal(t.AppendFormat(back[:0], tsLayout), b) {
		return 0, fmt.Errorf("time %q is not in canonical form %s", b, tsLayout)
	}
	ticks := TimeTicks(t)
	if ticks < MinTime || ticks > MaxTime {
		return 0, fmt.Errorf("time %q is outside years 0001-9999", b)
	}
	return ticks, nil
}
