package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The data directory holds secrets: the admin key, every policy key and geo-DR link key (in the
// metadata log and snapshots), job definitions with sink passwords, and tenants' events. It is
// private to the node's user: the directory 0700, files 0600, created so from their first open.
const (
	dataDirPerm fs.FileMode = 0o700
	privateFile fs.FileMode = 0o600
)

// prepareDataDir creates the data directory 0700, and tightens what an older version left
// readable by others: the files and directories under meta/, hubs/, jobs/ and producer-ids
// (created 0644/0755 before). It logs what it changed, once. The admin key is not tightened but
// refused (loadAdminKey): its secret may already have leaked. An existing data directory open
// to others is only warned about, since it may be a directory the operator shares on purpose
// (--data .); everything the node writes in it is private anyway.
func (b *Broker) prepareDataDir() error {
	dir := b.opts.DataDir
	if err := os.MkdirAll(dir, dataDirPerm); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		b.log.Warn("the data directory is accessible to other users; its files are private, but run chmod 700 on it "+
			"unless it is shared on purpose", "dir", dir, "mode", fmt.Sprintf("%#o", st.Mode().Perm()))
	}
	var fixed int
	for _, name := range []string{"meta", "hubs", "jobs", "producer-ids"} {
		n, err := tightenTree(filepath.Join(dir, name))
		fixed += n
		if err != nil {
			return fmt.Errorf("making %s private (chmod 600 files, 700 directories): %w", filepath.Join(dir, name), err)
		}
	}
	if fixed > 0 {
		b.log.Warn("files in the data directory were readable by other users (written by an older version); made them private",
			"dir", dir, "files_and_dirs", fixed)
	}
	return nil
}

// tightenTree removes group and other permissions from root and everything under it (regular
// files become 0600, directories 0700), not following symbolic links. It returns how many it
// changed; a missing root is nothing to do.
func tightenTree(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if info.Mode().Perm()&0o077 == 0 {
			return nil
		}
		mode := privateFile
		if d.IsDir() {
			mode = dataDirPerm
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}
