//go:build !lazyfs

package main

import (
	"log/slog"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// testFS is nil in a normal build: partition logs use the operating system's filesystem.
func testFS(*slog.Logger) seglog.FS { return nil }
