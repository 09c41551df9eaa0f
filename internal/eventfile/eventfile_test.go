package eventfile

import (
	"os"
	"path/filepath"
	"strings"
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
