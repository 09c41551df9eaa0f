package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Row is one output row of a job.
type Row struct {
	Time int64  // the row's timestamp (System.Timestamp()): 100 ns ticks since the Unix epoch, UTC
	Key  string // deterministic row key; (Time, Key) is unique within one output and totally orders it (byte order of Key)
	Data []byte // the row as one JSON object, e.g. {"DeviceId":"d1","Count":3}
}

// Pos returns the row's place in its output's total order.
func (r Row) Pos() Position { return Position{Time: r.Time, Key: r.Key} }

// Position is a place in an output's total order.
type Position struct {
	Time int64
	Key  string
}

// Less reports whether p comes before q: by Time, then by the bytes of Key.
func (p Position) Less(q Position) bool {
	if p.Time != q.Time {
		return p.Time < q.Time
	}
	return p.Key < q.Key
}

// Beginning is before every row: ReadAfter(ctx, Beginning, n) reads from the first row. (The zero
// Position is 1970-01-01 with an empty key, which rows before 1970 would come before.)
var Beginning = Position{Time: math.MinInt64}

// Sink is one output of a job: its Reader (HighWater, ReadAfter, Close) and Write.
type Sink interface {
	Reader
	// Write stores rows (in total order, possibly repeating rows already stored) atomically: all or none. Repeats are upserts: the stored row is replaced by the new one.
	Write(ctx context.Context, rows []Row) error
}

// tickNanos is the length of one tick of Row.Time.
const tickNanos = 100

// MinTime and MaxTime bound Row.Time: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.9999999Z,
// the range of a Stream Analytics datetime and of the file sink's RFC 3339 timestamps.
var (
	MinTime = TimeTicks(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	MaxTime = TimeTicks(time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC))
)

// TimeTicks converts t to Row.Time ticks, truncating below 100 ns.
func TimeTicks(t time.Time) int64 {
	return t.Unix()*1e7 + int64(t.Nanosecond())/tickNanos
}

// TicksTime converts Row.Time ticks to a UTC time.
func TicksTime(ticks int64) time.Time {
	sec, frac := ticks/1e7, ticks%1e7
	if frac < 0 {
		sec, frac = sec-1, frac+1e7
	}
	return time.Unix(sec, frac*tickNanos).UTC()
}

// checkRows validates a batch before any sink stores it: each row's time in range, its key valid
// UTF-8 without NUL (PostgreSQL text and JSON strings hold nothing else), its data one JSON object,
// and the rows strictly increasing in total order. Every sink checks the same way, so a job that
// works with one sink works with all.
func checkRows(name string, rows []Row) error {
	for i := range rows {
		r := &rows[i]
		if r.Time < MinTime || r.Time > MaxTime {
			return errcode.New(errcode.InvalidArgument,
				"sink %s: row %d has time %d ticks, outside years 0001-9999 (ticks are 100 ns since 1970-01-01 UTC)", name, i, r.Time)
		}
		if !utf8.ValidString(r.Key) || strings.IndexByte(r.Key, 0) >= 0 {
			return errcode.New(errcode.InvalidArgument,
				"sink %s: row %d has key %q, which is not valid UTF-8 or contains NUL; keys must be text", name, i, r.Key)
		}
		if !isJSONObject(r.Data) {
			return errcode.New(errcode.InvalidArgument,
				"sink %s: row %d (time %d, key %q) is not one JSON object: %.60q", name, i, r.Time, r.Key, r.Data)
		}
		if i > 0 && !rows[i-1].Pos().Less(r.Pos()) {
			return errcode.New(errcode.InvalidArgument,
				"sink %s: row %d (time %d, key %q) does not come after row %d (time %d, key %q); write rows in strictly increasing (time, key) order",
				name, i, r.Time, r.Key, i-1, rows[i-1].Time, rows[i-1].Key)
		}
	}
	return nil
}

// isJSONObject reports whether data is exactly one valid JSON object (surrounding space allowed).
func isJSONObject(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(data)
}
