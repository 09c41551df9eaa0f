// Package agg holds the aggregate functions of Tandem's query engine with Stream Analytics
// semantics: COUNT (with * and DISTINCT), SUM, AVG, MIN, MAX, STDEV, STDEVP, VAR, VARP, TopOne
// and Collect. Each aggregate is an accumulator (Acc) that takes one event's arguments at a time
// and whose whole state can be written into a checkpoint (AppendState) and read back (Restore)
// exactly, float bits included, so that a job restarted from a checkpoint produces the same rows
// as one that never stopped.
//
// What each function does with NULLs, with mixed bigint and float arguments, with a single value
// or none, and where Stream Analytics' documentation is silent, is written at the accumulator's
// type and collected in the table in agg.go.
//
// The package is pure and deterministic: no clock, no I/O, no goroutines, no map iteration where
// order could show. It depends on internal/sqlval only. It knows nothing of windows, groups,
// the planner or the engine (internal/stream), which create one accumulator per group and window
// and decide when to read its Result.
//
// The hot path is COUNT and AVG by key in a tumbling window: Add of COUNT, SUM, AVG, MIN and MAX
// does not allocate (TestAddDoesNotAllocate), and every accumulator is a small concrete type.
package agg
