// Package e2e holds Tandem's process-level tests: they build the tandem binary, run real
// `tandem serve` processes on 127.0.0.1, drive them with clients nobody on the team wrote
// (franz-go, kcat) and inject real faults (kill -9). It has no production code; node_test.go is
// the harness that starts, kills and restarts nodes, through internal/nodeproc (the supervisor
// tandem dev and tandem drill use too).
package e2e
