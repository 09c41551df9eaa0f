package output

import (
	"context"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// repairBatch is how many rows Repair writes into the primary at a time.
const repairBatch = 500

// RepairResult is what Repair did.
type RepairResult struct {
	Copied   int64 // rows written into the primary
	Compared int64 // rows in either output within the bounds
	// Rows both outputs hold with different data: reported, never overwritten (the first
	// MaxListed listed, all counted). By determinism there are none; if there are, the
	// outputs come from different jobs or one was changed by hand.
	Differ      []RowPair
	DifferCount int64
	// Rows only the primary holds (the secondary is behind): nothing to do, counted.
	MissingOnSecondaryCount int64
}

// Repair writes into primary the rows secondary holds and primary lacks, in batches in
// increasing order (sink Write upserts, so a repair racing the primary's job, which writes
// the same rows, is harmless). It is idempotent: a second run copies nothing. Rows that differ
// are reported, not overwritten.
//
// A JSON-lines (file) primary is refused: a file output is appended by its job alone, which
// catches up by itself; repair fills SQLite and PostgreSQL outputs.
func Repair(ctx context.Context, primary sink.Sink, secondary sink.Reader, o DiffOptions) (RepairResult, error) {
	if _, ok := primary.(*sink.File); ok {
		return RepairResult{}, errFileRepair("the primary output")
	}
	var res RepairResult
	maxListed := cmpOr(o.MaxListed, DefaultMaxListed)
	var batch []sink.Row
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := primary.Write(ctx, batch); err != nil {
			return errcode.New(errcode.CodeOf(err), "repair: writing %d rows into the primary (from %s): %w; "+
				"the rows before were copied, run the repair again", len(batch), posString(batch[0].Pos(), true), err)
		}
		res.Copied += int64(len(batch))
		batch = batch[:0]
		return nil
	}
	err := mergeJoin(ctx, primary, secondary, o, func(p, s *sink.Row) error {
		res.Compared++
		switch {
		case p == nil:
			batch = append(batch, *s)
			if len(batch) >= repairBatch {
				return flush()
			}
		case s == nil:
			res.MissingOnSecondaryCount++
		case !SameData(p.Data, s.Data):
			res.DifferCount++
			if len(res.Differ) < maxListed {
				res.Differ = append(res.Differ, RowPair{Primary: *p, Secondary: *s})
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return res, err
}

// CheckRepairable returns the error Repair gives for a primary it cannot repair, from its URL:
// a JSON-lines file output. It is nil for SQLite and PostgreSQL URLs (and for malformed URLs,
// which opening reports). Check before opening: opening a file output for writing truncates a
// torn tail that its job may still be writing.
func CheckRepairable(url string) error {
	if sink.IsTableURL(url) {
		return nil
	}
	scheme, _, hasScheme := strings.Cut(url, "://")
	path, _, _ := strings.Cut(url, "?")
	if hasScheme && scheme == "file" || !hasScheme && strings.HasSuffix(path, ".jsonl") {
		return errFileRepair("the primary output " + url)
	}
	return nil
}

func errFileRepair(what string) error {
	return errcode.New(errcode.InvalidArgument,
		"%s is a JSON-lines file, which repair does not write: a file output is appended by its job alone and catches up by itself "+
			"(the job writes every row after the file's last one); repair fills SQLite or PostgreSQL outputs", what)
}
