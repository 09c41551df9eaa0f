// Package sqlval is the value model and scalar function library of Tandem's query engine: the
// Stream Analytics data types (bigint, float, nvarchar(max), datetime, bit, record, array and
// NULL), their total order and canonical key encoding for GROUP BY and deterministic sorting, a
// fast hand-written JSON decoder and a byte-stable JSON encoder, CAST / TRY_CAST, the built-in
// scalar functions (date, string, math, NULL handling, record and array access), LIKE matching
// and the arithmetic and comparison operators.
//
// Semantics follow the Azure Stream Analytics query language reference; where that reference is
// silent the T-SQL behaviour it is modelled on is used, and the comment at the function says so.
//
// The package is pure and deterministic: no clock reads, no I/O, no goroutines, no iteration over
// maps where order could show. It must not import the parser (internal/saql), the planner, the
// runtime or any sink; those depend on it, not the other way round.
package sqlval
