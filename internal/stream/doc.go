// Package stream is the deterministic core of a stream job: it compiles a Stream Analytics query
// (parsed by internal/saql) into a plan of operators and runs events through it in event time.
//
// The Engine is a plain state machine in the manner of a raft core: no goroutine, no clock and no
// I/O. Events come in with Push (each with its input, partition and arrival time), idle
// partitions are advanced with Idle, and the end of the input is Flush. Output rows come back
// from those calls in the total order of the job's output: (timestamp, output, row key).
//
// How time works (docs/ARCHITECTURE.md, "Stream jobs"):
//   - Each input source (an input with its TIMESTAMP BY) assigns an event time to every event and
//     applies the Stream Analytics ordering policies per input partition (or per substream key
//     with TIMESTAMP BY … OVER): early events are dropped, late and out-of-order events are
//     adjusted or dropped. The partition's watermark is the largest event time seen minus the
//     out-of-order tolerance.
//   - Events wait in one heap ordered by (event time, canonical bytes of the event) until the
//     smallest watermark over all partitions passes them. Time then advances in steps: at each
//     step t every operator, in dependency order, receives its input rows with timestamp t and
//     then fires what is due at t (window ends, session timeouts, unmatched LEFT JOIN rows).
//   - Because rows reach every operator in timestamp order and in a canonical order within a
//     timestamp, the output depends only on the set of events and their adjusted times, never
//     on how partitions interleave: that is the determinism the job runner and the geo-redundant
//     reader rely on.
//
// The package owns no storage: the job runner (internal/job) feeds it, checkpoints it and writes
// its rows to sinks. Aggregate functions live in internal/stream/agg; scalar values and
// functions in internal/sqlval.
package stream
