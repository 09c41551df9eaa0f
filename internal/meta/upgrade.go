package meta

import (
	"errors"
	"io/fs"
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
