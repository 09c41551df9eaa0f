package job

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAuditM5_JobFilesPrivate: job definitions (sink URLs with database passwords) and
// checkpoints are created private to the node's user, in private directories.
func TestAuditM5_JobFilesPrivate(t *testing.T) {
	s := store{dir: filepath.Join(t.TempDir(), "jobs")}
	r := &record{Spec: Spec{Name: "orders-to-pg"}, Want: "Created", CreatedAt: time.Unix(0, 0)}
	if err := s.save(r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.saveCheckpoint(context.Background(), "orders-to-pg", 0, 0, &checkpoint{Offsets: map[string]map[int32]int64{}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		s.dir:                    0o700,
		s.jobDir("orders-to-pg"): 0o700,
		filepath.Join(s.jobDir("orders-to-pg"), "job.json"):   0o600,
		filepath.Join(s.jobDir("orders-to-pg"), "checkpoint"): 0o600,
	}
	for path, mode := range want {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %#o, want %#o", path, st.Mode().Perm(), mode)
		}
	}
}
