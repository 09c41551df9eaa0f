package spool

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

const lockName = "LOCK"

// lockDir takes the exclusive flock on dir's LOCK file that keeps every other Spool, in this
// process or another, out of dir. Closing the returned file releases it.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, ioError(dir, "opening the LOCK file", err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return f, nil
	}
	_ = f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, errcode.New(errcode.Conflict,
			"spool %s is in use: another process (or another open Spool) holds %s; "+
				"stop that producer, or give each producer its own spool directory", dir, name)
	}
	return nil, ioError(dir, "locking the LOCK file", err)
}
