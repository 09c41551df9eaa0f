// Package checker is the Jepsen-style checker of Tandem's process-level tests: a history of
// client operations against a region (sends, polls, offset commits, a final read of every
// partition, and the faults a nemesis injected) and Check, which says whether the region kept
// its promises over that history (replication.md §4.2, after jepsen.tests.kafka).
//
// It owns:
//   - the history's operations (Op) and a concurrency-safe Recorder that clients append to;
//   - the history's JSON-lines form (WriteJSONL, ReadJSONL), so a failing run's history is
//     kept as an artefact and can be checked again;
//   - the safety checks (lost acknowledged writes, inconsistent offsets, duplicates, aborted
//     reads, per-producer order, poll order within an assignment, committed offsets) and the
//     liveness figures (client-observed unavailability per fault), reported as a Report.
//
// It is pure: it does no I/O of its own (the JSON-lines functions take an io.Writer or
// io.Reader), starts no goroutine and reads no clock; times are in the operations. It must
// not know how a history was produced: starting nodes, clients and faults belong to the
// runner (internal/e2e).
package checker
