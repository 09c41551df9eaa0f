package output

import (
	"context"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// CheckOutputs refuses, before diff, repair or follow act, an output that does not exist where
// its URL points: a SQLite file or table, a PostgreSQL table or a JSON-lines file (a typo in a
// path or in --output must not read as an empty output). The error names the flag and what
// does exist there. With reachableOnly (follow, which switches away from an output that does
// not answer), an output whose server does not answer now is not an error; diff and repair
// need both.
func CheckOutputs(ctx context.Context, primary, secondary, output string, reachableOnly bool) error {
	for _, o := range []struct{ flag, url string }{{"--primary", primary}, {"--secondary", secondary}} {
		err := sink.CheckExists(ctx, o.url, output)
		if err == nil || reachableOnly && errcode.Is(err, errcode.Unavailable) {
			continue
		}
		return errcode.New(errcode.CodeOf(err), "%s: %w", o.flag, err)
	}
	return nil
}

// ErrNothingCompared is the error for a diff that compared no rows: two empty outputs (or no
// rows within the bounds) are not reported equal.
func ErrNothingCompared(bounded bool) error {
	within := ""
	if bounded {
		within = " between --from and --to"
	}
	return errcode.New(errcode.NotFound,
		"neither output holds a row%s, so nothing was compared and they are not reported equal; "+
			"check that the job runs in both regions and has written rows (tandem job show), and the --from/--to bounds", within)
}
