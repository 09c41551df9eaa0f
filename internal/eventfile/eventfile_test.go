package eventfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func write(t testing.TB, name, data string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadForms(t *testing.T) {
	for name, data := range map[string]string{
		"a.json":  `[{"k":"a","v":1},` + "\n" + `{"k":"b","v":2}]`,
		"a.jsonl": "{\"k\":\"a\",\"v\":1}\n\n{\"k\":\"b\",\"v\":2}\n",
		"a.csv":   "k,v\na,1\nb,2\n",
	} {
		evs, err := Read(write(t, name, data))
		if err != nil || len(evs) != 2 {
			t.Fatalf("%s: %v %v", name, evs, err)
		}
		if got := string(evs[1].Value.AppendJSON(nil)); got != `{"k":"b","v":2}` {
			t.Errorf("%s: second event %s", name, got)
		}
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	_, err := Read(write(t, "bad.jsonl", "{\"k\":1}\n{\"k\":\n"))
	if errcode.CodeOf(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "bad.jsonl line 2") {
		t.Fatalf("got %v", err)
	}
}

// FuzzRead: any file content gives events or an error, never a panic.
func FuzzRead(f *testing.F) {
	f.Add("[{\"a\":1}]", false)
	f.Add("{\"a\":1}\n{\"b\":[1,2]}", false)
	f.Add("a,b\n1,x\n", true)
	f.Add("a,b\n\"1,x\n", true)
	f.Fuzz(func(t *testing.T, data string, csv bool) {
		name := "f.json"
		if csv {
			name = "f.csv"
		}
		evs, err := Read(write(t, name, data))
		if err == nil {
			for _, e := range evs {
				if e.Line < 1 {
					t.Fatalf("event without a line: %+v", e)
				}
			}
		}
	})
}

// Audit M3: reference data was read with os.ReadFile, so /dev/zero as a reference file used
// memory until the process died. A device is refused before it is read, and a file over the
// limit is refused from its size; a device read without RegularOnly stops at the limit.
func TestAuditM3_EventFileReadIsBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := ReadWith("/dev/zero", Limits{MaxBytes: 1 << 20, RegularOnly: true})
	if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "/dev/zero is not a regular file (it is a character device)") {
		t.Fatalf("/dev/zero, regular only: %v", err)
	}
	_, err = ReadWith("/dev/zero", Limits{MaxBytes: 1 << 20, Flag: "--job-reference-max-bytes"})
	if !errcode.Is(err, errcode.QuotaExceeded) || !strings.Contains(err.Error(), "/dev/zero is larger than that, over the limit of 1048576 bytes (1 MiB)") ||
		!strings.Contains(err.Error(), "raise --job-reference-max-bytes") {
		t.Fatalf("/dev/zero, bounded: %v", err)
	}
	big := write(t, "big.jsonl", strings.Repeat(`{"k":"a"}`+"\n", 1000))
	_, err = ReadWith(big, Limits{MaxBytes: 5000, RegularOnly: true})
	if !errcode.Is(err, errcode.QuotaExceeded) || !strings.Contains(err.Error(), "is 10000 bytes, over the limit of 5000 bytes") {
		t.Fatalf("big file: %v", err)
	}
	if evs, err := ReadWith(big, Limits{MaxBytes: 10000, RegularOnly: true}); err != nil || len(evs) != 1000 {
		t.Fatalf("a file at the limit: %d events, %v", len(evs), err)
	}
	fifo := filepath.Join(t.TempDir(), "pipe.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err == nil { // a named pipe is refused without blocking
		if _, err = ReadWith(fifo, Limits{RegularOnly: true}); err == nil || !strings.Contains(err.Error(), "(it is a named pipe)") {
			t.Fatalf("fifo: %v", err)
		}
	}
	_, err = ReadWith(t.TempDir(), Limits{RegularOnly: true})
	if err == nil || !strings.Contains(err.Error(), "(it is a directory)") {
		t.Fatalf("directory: %v", err)
	}
}
