package meta

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Single-node data directories in cluster mode: a single node keeps its metadata in a Store
// (<data>/meta), a cluster member in a RaftStore (<data>/meta-raft). A node started as a
// cluster member on a directory a single node wrote must not start an empty cluster beside
// the data it holds.

// HoldsStore reports whether dir holds a single-node Store's metadata (log segments or
// snapshots). A missing directory holds none.
func HoldsStore(dir string) (bool, error) {
	for _, kind := range [][2]string{{segPrefix, segSuffix}, {snapPrefix, snapSuffix}} {
		files, err := listNumbered(dir, kind[0], kind[1])
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(files) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// HoldsRaftStore reports whether dir holds a RaftStore (a checkpoint). A missing directory
// holds none.
func HoldsRaftStore(dir string) (bool, error) {
	files, err := listNumbered(dir, ckptPrefix, ckptSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return len(files) > 0, err
}

// PreClusterSuffix names a single-node Store's directory after UpgradeToRaft carried it into a
// RaftStore: <data>/meta becomes <data>/meta.pre-cluster, kept for inspection.
const PreClusterSuffix = ".pre-cluster"

// UpgradeToRaft carries the single-node Store in storeDir into a new RaftStore directory
// raftDir: the Store's state becomes the RaftStore's first checkpoint (at raft index 0, with the
// Store's metadata index), so a one-node cluster starts from the data the single node held.
// prepare is called first, with the state, to ready everything else for the cluster (the
// broker's partitions); it must be idempotent: a crash before the end runs the upgrade again.
//
// Crash safety: raftDir appears in one rename of a complete, fsynced directory, which is the
// point of no return. Before it the Store is untouched (a single node may still use it, and the
// upgrade runs again); after it the RaftStore is used, and the Store directory is renamed to
// storeDir+PreClusterSuffix (again at the next start if a crash comes first). It does nothing
// when raftDir already holds a RaftStore, apart from finishing that rename.
func UpgradeToRaft(storeDir, raftDir string, logger *slog.Logger, prepare func(*State) error) error {
	if logger == nil {
		logger = slog.Default()
	}
	done, err := HoldsRaftStore(raftDir)
	if err != nil {
		return err
	}
	if !done {
		if err := writeRaftFromStore(storeDir, raftDir, logger, prepare); err != nil {
			return err
		}
	}
	if single, err := HoldsStore(storeDir); err != nil || !single {
		return err
	}
	old := storeDir + PreClusterSuffix
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(storeDir, old); err != nil {
		return errcode.New(errcode.Internal, "moving the single-node metadata aside after the upgrade: %w", err)
	}
	return syncDir(filepath.Dir(storeDir))
}

// writeRaftFromStore writes raftDir from the Store in storeDir (see UpgradeToRaft).
func writeRaftFromStore(storeDir, raftDir string, logger *slog.Logger, prepare func(*State) error) error {
	st, err := Open(StoreOptions{Dir: storeDir, Logger: logger})
	if err != nil {
		return err
	}
	var data []byte
	st.View(func(s *State) {
		if err = prepare(s); err == nil {
			data, err = s.MarshalSnapshot()
		}
	})
	index := st.Index()
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	tmp := raftDir + ".upgrading"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, dirPerm); err != nil {
		return errcode.New(errcode.Internal, "creating metadata directory: %w", err)
	}
	if err := writeFileAtomic(checkpointPath(tmp, 0), appendFrame(nil, 0, data)); err != nil {
		return errcode.New(errcode.Internal, "writing the metadata checkpoint of the upgrade: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, raftDir); err != nil {
		return errcode.New(errcode.Internal, "putting the upgraded metadata in place: %w", err)
	}
	if err := syncDir(filepath.Dir(raftDir)); err != nil {
		return err
	}
	logger.Info("upgraded single-node metadata to a one-node cluster", "from", storeDir, "to", raftDir, "index", index)
	return nil
}
