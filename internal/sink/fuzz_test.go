package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// lineSeeds are lines of the file sink's format and near misses.
var lineSeeds = []string{
	`{"ts":"2024-05-01T12:00:00.0000000Z","key":"d1","row":{"DeviceId":"d1","Count":3}}`,
	`{"ts":"2024-05-01T12:00:00.1234567Z","key":"q\"\\\u0001","row":{"a":[1,{"b":null}]}}`,
	`{"key":"d1","ts":"2024-05-01T12:00:00.0000000Z","row":{}}`,
	`{ "ts" : "0001-01-01T00:00:00.0000000Z" , "key" : "" , "row" : { } }`,
	`{"ts":"9999-12-31T23:59:59.9999999Z","key":"é","row":{"x":"\u2028"}}`,
	`{"ts":"2024-02-30T12:00:00.0000000Z","key":"d","row":{}}`,
	`{"ts":"2024-05-01T12:00:00.000000Z","key":"d","row":{}}`,
	`{"ts":"0000-01-01T00:00:00.0000000Z","key":"d","row":{}}`,
	`{"ts":"2024-05-01T12:00:00.0000000Z","key":"d","row":[]}`,
	`{"ts":"2024-05-01T12:00:00.0000000Z","key":"d","row":{},"extra":1}`,
	`{"ts":"2024-05-01T12:00:00.0000000Z","key":"a\u0000","row":{}}`,
	`{"ts":"2024-05-01T12:00:00.0000000Z","key":"d","row":{"a":1}`,
	"{\"ts\":\"2024-05-01T12:00:00.0000000Z\",\"key\":\"\xff\",\"row\":{}}",
	`null`, ``, `{}`, `{"ts":1,"key":2,"row":3}`,
}

// FuzzDecodeLine checks the line decoder never panics, that its fast path agrees with the
// general one, and that whatever decodes encodes back to a canonical line with the same row.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range lineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // not one line
		}
		fast, fastOK := decodeCanonical(line)
		general, err := decodeGeneral(line)
		if fastOK && (err != nil || !sameRow(fast, general)) {
			t.Fatalf("fast path decoded %q as %+v but the general one gave %+v, %v", line, fast, general, err)
		}
		r, err := decodeLine(line)
		if err != nil {
			return
		}
		if err := checkRows("fuzz", []Row{r}); err != nil {
			t.Fatalf("decoded %q into a row Write would reject: %v", line, err)
		}
		enc := appendLine(nil, &r)
		back, err := decodeLine(enc[:len(enc)-1])
		if err != nil || back.Time != r.Time || back.Key != r.Key || !jsonSame(back.Data, r.Data) {
			t.Fatalf("%q decoded to %+v, encoded to %q, which decodes to %+v, %v", line, r, enc, back, err)
		}
		if !strings.ContainsAny(r.Key, "\"\\") && strings.IndexFunc(r.Key, func(c rune) bool { return c < 0x20 }) < 0 {
			if _, ok := decodeCanonical(enc[:len(enc)-1]); !ok {
				t.Fatalf("the encoder wrote %q, which is not canonical", enc)
			}
		}
	})
}

func sameRow(a, b Row) bool {
	return a.Time == b.Time && a.Key == b.Key && bytes.Equal(a.Data, b.Data)
}

// jsonSame compares two JSON texts after compaction.
func jsonSame(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// FuzzOpenFile opens a file sink on arbitrary bytes: it must fail with CorruptData and leave the
// file alone, or succeed having truncated at most a torn tail (bytes after the last newline) and
// read every complete line as a row.
func FuzzOpenFile(f *testing.F) {
	valid := string(linesOf(rows(0, 4)))
	f.Add([]byte(valid))
	f.Add([]byte(valid[:len(valid)-7]))
	f.Add([]byte(valid + "\x00\x00\x00"))
	f.Add([]byte(strings.Replace(valid, "\n", "\n\n", 1)))
	f.Add([]byte(lineSeeds[1] + "\n" + lineSeeds[0] + "\n"))
	for _, s := range lineSeeds {
		f.Add([]byte(s + "\n" + s))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.jsonl")
		writeFile(t, path, content)
		s, err := Open(context.Background(), fileURL(dir, 0), "out")
		if err != nil {
			if !errcode.Is(err, errcode.CorruptData) {
				t.Fatalf("Open failed with %v; want CorruptData", err)
			}
			if !bytes.Equal(readFile(t, path), content) {
				t.Fatal("a failed Open changed the file")
			}
			return
		}
		defer s.Close()
		complete := content[:bytes.LastIndexByte(content, '\n')+1]
		if !bytes.Equal(readFile(t, path), complete) {
			t.Fatalf("Open left %q; want the complete lines %q", readFile(t, path), complete)
		}
		got := readAll(t, s, 3)
		lines := bytes.Split(complete, []byte("\n"))
		if len(got) != len(lines)-1 {
			t.Fatalf("read %d rows from %d complete lines", len(got), len(lines)-1)
		}
		for i, r := range got {
			want, err := decodeLine(lines[i])
			if err != nil || !sameRow(r, want) {
				t.Fatalf("row %d is %+v; line %q decodes to %+v, %v", i, r, lines[i], want, err)
			}
		}
	})
}
