package checker

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestJSONLRoundTrip(t *testing.T) {
	ops := cleanHistory()
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, ops); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(ops) {
		t.Fatalf("%d lines for %d operations", n, len(ops))
	}
	got, err := ReadJSONL(strings.NewReader("\n" + buf.String() + "\n  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("history changed in a round trip:\n got %+v\nwant %+v", got, ops)
	}
	if !reflect.DeepEqual(Check(got), Check(ops)) {
		t.Fatal("the report of the read history differs")
	}
}

func TestReadJSONLNamesTheBadLine(t *testing.T) {
	_, err := ReadJSONL(strings.NewReader(`{"kind":"send"}` + "\n{not json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v, want one naming line 2", err)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				r.Add(Op{Kind: KindSend})
			}
		})
	}
	wg.Wait()
	if n := len(r.Ops()); n != 400 {
		t.Fatalf("%d operations recorded, want 400", n)
	}
}

func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	WriteJSONL(&buf, cleanHistory())
	f.Add(buf.String())
	f.Add(`{"kind":"final","end":null}`)
	f.Add("{}\n{}")
	f.Fuzz(func(t *testing.T, s string) {
		ops, err := ReadJSONL(strings.NewReader(s))
		if err != nil {
			return
		}
		Check(ops) // must not panic on any history that parses
		var out bytes.Buffer
		if err := WriteJSONL(&out, ops); err != nil {
			t.Fatal(err)
		}
		again, err := ReadJSONL(&out)
		if err != nil || len(again) != len(ops) {
			t.Fatalf("a written history does not read back: %v (%d vs %d ops)", err, len(again), len(ops))
		}
	})
}
