package linz

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func TestSaveLoadHistory(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
		op(1, 2, -1, setCP("a", DefaultGroup, 0, 5), res(Unknown)),
		op(2, 3, 4, in(ListGroups, "a"), groups("$Default=")),
	}
	h[2].Input = Input{Kind: ListGroups, Hub: "a", Node: 3}
	path := filepath.Join(t.TempDir(), "history.json")
	if err := SaveHistory(path, h); err != nil {
		t.Fatal(err)
	}
	got, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("loaded %+v, saved %+v", got, h)
	}
	if _, err := LoadHistory(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("loading a missing file did not fail")
	}
}

// TestRecheckHistory checks a saved history again: TANDEM_LINZ_HISTORY=path/history.json (as
// a failed e2e run leaves it), TANDEM_LINZ_TIMEOUT=10m for a history porcupine did not finish.
func TestRecheckHistory(t *testing.T) {
	path := os.Getenv("TANDEM_LINZ_HISTORY")
	if path == "" {
		t.Skip("TANDEM_LINZ_HISTORY names no saved history to check")
	}
	timeout := 10 * time.Minute
	if s := os.Getenv("TANDEM_LINZ_TIMEOUT"); s != "" {
		var err error
		if timeout, err = time.ParseDuration(s); err != nil {
			t.Fatalf("TANDEM_LINZ_TIMEOUT=%q: %v", s, err)
		}
	}
	h, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if os.Getenv("TANDEM_LINZ_KEEP") != "" {
		dir, _ = os.MkdirTemp("", "tandem-linz-")
	}
	v, err := Check(context.Background(), Spec{}, h, timeout, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("porcupine: %v for %d operations in %v", v.Result, v.Ops, v.Took)
	if v.Result != porcupine.Ok {
		t.Fatalf("not linearizable (%v): %s\n%s", v.Result, v.HTML, v.Why)
	}
}
