// Package job runs stream jobs inside `tandem serve`: it owns the job definitions and
// checkpoints under <data>/jobs, and one runner goroutine per running job that reads the
// job's event hub inputs straight from the broker, drives the deterministic engine
// (internal/stream) and writes the output rows to their sinks (internal/sink).
//
// Exactly once: a runner writes its pending rows to the sinks, then a checkpoint (the engine
// snapshot and the input offsets after the events it holds) atomically. After a crash the job
// restores the snapshot and reads again from those offsets; the engine emits the same rows with
// the same (time, key), and the sinks upsert them, so every row is stored once.
//
// Bounds: a job created by an anonymous --dev caller is confined (Creator, access.go) to files
// under <data>/job-files and event hubs of the dev namespace; reference files are regular files
// of at most Options.ReferenceMaxBytes; a job whose state grows past its budget
// (Options.StateBudget, budget.go) fails with an error instead of exhausting the node.
//
// The package does not touch metadata or geo-DR: jobs are a region's own.
package job
