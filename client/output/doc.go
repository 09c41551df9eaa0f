// Package output follows and reconciles the output of a job that runs in two regions.
//
// Identical jobs in two regions write, by determinism, identical rows (same time, key and data)
// to each region's output (a sink: a SQLite or PostgreSQL table, or JSON-lines files). Each
// region's output is a prefix of the same totally ordered row sequence, so a reader can read
// the primary region's output and, when the primary fails or falls behind, carry on from the
// same position in the secondary's, without a row twice or a row skipped.
//
//   - Follow returns a Follower: Next returns rows in total order from the current source and
//     switches between the sources by the rules in FollowOptions; Commit keeps the position in a
//     state file, so a restarted reader continues where it stopped.
//   - Diff compares the two outputs row by row (a merge join in total order).
//   - Repair copies into a SQL primary the rows the secondary has and the primary lacks.
//
// The package reads outputs through internal/sink (sink.OpenReader) and writes only in Repair
// (through sink.Open's Write, an upsert). It owns no goroutine: Next polls in the caller's
// goroutine. It must not know about jobs, queries or the broker.
package output
