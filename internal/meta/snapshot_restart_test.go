package meta

import (
	"os"
	"path/filepath"
	"testing"
)

// newestSnapshot is the index of the newest snapshot file in dir, or 0.
func newestSnapshot(t *testing.T, dir string) uint64 {
	t.Helper()
	snaps, err := listNumbered(dir, snapPrefix, snapSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		return 0
	}
	return snaps[len(snaps)-1].first
}

// TestAuditSnapshot_CountedFromNewestOnDisk: a node restarted after fewer commands than the
// snapshot interval each time still writes a snapshot once the commands since the newest one on
// disk reach the interval, so the log replayed at a start stays shorter than the interval. (The
// fault-injection run found it counted from each process start: no snapshot, ever longer replay.)
func TestAuditSnapshot_CountedFromNewestOnDisk(t *testing.T) {
	const every, perRun, runs = 10, 4, 9
	dir := t.TempDir()
	hub := 0
	for run := range runs {
		s := openStore(t, dir, every)
		if replay := s.Index() - newestSnapshot(t, dir); replay >= every {
			t.Fatalf("start %d replays %d commands after the newest snapshot; want fewer than %d", run, replay, every)
		}
		before := s.Index()
		proposeHubs(t, s, hub, perRun)
		hub += perRun
		if got := s.Index() - before; got >= every {
			t.Fatalf("run %d applied %d commands; the test needs fewer than the interval per run", run, got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, dir, every)
	defer s.Close()
	total, snap := s.Index(), newestSnapshot(t, dir)
	if snap == 0 || total-snap >= every {
		t.Fatalf("after %d commands over %d restarts the newest snapshot is at %d; want one within %d of the end",
			total, runs, snap, every)
	}
}

// TestAuditSnapshot_OverdueWrittenAtStart: a store that recovers more commands after its newest
// snapshot than the interval (an older version, or a larger interval before) writes a snapshot
// right away, without waiting for a new command.
func TestAuditSnapshot_OverdueWrittenAtStart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1000)
	proposeHubs(t, s, 0, 30)
	idx := s.Index()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 10)
	if err := s.Close(); err != nil { // Close waits for the writer goroutine, which snapshots first
		t.Fatal(err)
	}
	if got := newestSnapshot(t, dir); got != idx {
		t.Fatalf("newest snapshot at %d after a start with %d commands to replay; want %d", got, idx, idx)
	}
}

// TestAuditM5_MetadataFilesPrivate: the metadata directory, log segments and snapshots (every
// policy key and link key is in them) are created private to the node's user.
func TestAuditM5_MetadataFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	s := openStore(t, dir, 5)
	proposeHubs(t, s, 0, 12)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("metadata directory: %v %v, want mode 0700", st.Mode(), err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs, snaps int
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", e.Name(), info.Mode().Perm())
		}
		switch filepath.Ext(e.Name()) {
		case segSuffix:
			logs++
		case snapSuffix:
			snaps++
		}
	}
	if logs == 0 || snaps == 0 {
		t.Fatalf("%d log segments and %d snapshots; the test needs both", logs, snaps)
	}
}
