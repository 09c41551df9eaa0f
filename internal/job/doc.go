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
// under <data>/job-files, event hubs of the dev namespace and PostgreSQL servers on loopback or
// a Unix socket under <data>/job-files (access_postgres.go); such a caller sees and manages only
// confined jobs, the admin's read as absent to it. Reference files are regular files of at most
// Options.ReferenceMaxBytes; a job whose state grows past its budget (Options.StateBudget,
// budget.go) fails with an error instead of exhausting the node.
//
// Secrets: job.json keeps sink URLs as given, passwords included (0600 in a 0700 directory).
// Everything the Manager returns (definitions, status, errors) shows them as *** (redact.go),
// and a definition that sends *** back as a password is refused rather than stored.
//
// Clusters (cluster.go, store_meta.go): in a region of several nodes the definitions, wanted
// states and latest checkpoints are in the region's replicated metadata (meta/jobs.go), and a
// lease there names the one node that runs each running job. The holder renews it; a node runs
// a job only while its lease is unexpired; when the holder dies its lease expires, another node
// takes it and resumes from the replicated checkpoint. Checkpoints are fenced by the lease at
// apply, and bounded by meta.MaxJobCheckpointBytes (4 MiB): a job whose checkpoint outgrows it
// fails with an error naming the limit. A job reads its inputs from the replicas on its node
// (committed data, leader or follower), so in a region of more than three nodes a node runs
// only jobs whose input partitions it holds.
//
// Jobs are a region's own: geo-DR does not replicate them.
package job
