//go:build lazyfs

package main

import (
	"log/slog"
	"os"

	"github.com/tandem-streaming/tandem/internal/lazyfs"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// testFS is the partition logs' filesystem of a test build: with TANDEM_TEST_LAZY_WRITES=1
// unsynced writes stay in memory, so kill -9 loses them as a power loss would. Only binaries
// built with -tags lazyfs (the process-level tests) have this switch.
func testFS(logger *slog.Logger) seglog.FS {
	if os.Getenv("TANDEM_TEST_LAZY_WRITES") != "1" {
		return nil
	}
	logger.Warn("TEST BUILD: partition log writes are lost at a kill unless fsynced (TANDEM_TEST_LAZY_WRITES=1)")
	return lazyfs.New()
}
