package meta

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// UpgradeToRaft carries a Store's state into a RaftStore's first checkpoint; a failure before
// the new directory is in place leaves the Store as it was.
func TestUpgradeToRaft(t *testing.T) {
	dir := t.TempDir()
	storeDir, raftDir := filepath.Join(dir, "meta"), filepath.Join(dir, "meta-raft")
	s := openStore(t, storeDir, 5) // a snapshot and a log after it
	proposeHubs(t, s, 0, 12)
	want := storeSnap(t, s)
	var wantHubs int
	s.View(func(st *State) { names, _ := st.Hubs(ns); wantHubs = len(names) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := HoldsStore(storeDir); !ok || err != nil {
		t.Fatalf("HoldsStore = %v, %v on a Store", ok, err)
	}

	boom := errors.New("boom")
	if err := UpgradeToRaft(storeDir, raftDir, quietLogger(), func(*State) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpgradeToRaft with a failing prepare: %v", err)
	}
	if _, err := os.Stat(raftDir); !os.IsNotExist(err) {
		t.Fatalf("a failed upgrade left %s: %v", raftDir, err)
	}
	s = openStore(t, storeDir, 5)
	if got := storeSnap(t, s); !bytes.Equal(got, want) {
		t.Fatal("a failed upgrade changed the Store")
	}
	s.Close()

	hubs := 0
	if err := UpgradeToRaft(storeDir, raftDir, quietLogger(), func(st *State) error {
		names, _ := st.Hubs(ns)
		hubs = len(names)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if hubs != wantHubs || hubs < 12 {
		t.Fatalf("prepare saw %d hubs, want %d", hubs, wantHubs)
	}
	st, err := readSnapshot(checkpointPath(raftDir, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.MarshalSnapshot()
	if !bytes.Equal(got, want) {
		t.Fatalf("the RaftStore's first checkpoint is not the Store's state:\n%s\n%s", got, want)
	}
	if ok, _ := HoldsStore(storeDir); ok {
		t.Fatal("the Store was not moved aside")
	}
	if ok, _ := HoldsStore(storeDir + PreClusterSuffix); !ok {
		t.Fatal("the Store was not kept in " + storeDir + PreClusterSuffix)
	}
	// Again: nothing to do.
	if err := UpgradeToRaft(storeDir, raftDir, quietLogger(), func(*State) error { return boom }); err != nil {
		t.Fatalf("a second upgrade: %v", err)
	}
}
