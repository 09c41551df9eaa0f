package job

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/eventfile"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// readReference loads reference data: a table (sqlite:// or postgres:// URL with ?table=), or a
// file holding a JSON array of objects, JSON lines or CSV. It is read when the job starts. A
// file must be a regular file of at most maxBytes; a device or pipe is refused before it is
// read.
func readReference(path string, maxBytes int64) ([]sqlval.Value, error) {
	if sink.IsTableURL(path) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return sink.ReadTable(ctx, path)
	}
	evs, err := eventfile.ReadWith(path, eventfile.Limits{MaxBytes: maxBytes, RegularOnly: true, Flag: "--job-reference-max-bytes"})
	if err != nil {
		return nil, err
	}
	rows := make([]sqlval.Value, len(evs))
	for i, e := range evs {
		rows[i] = e.Value
	}
	return rows, nil
}
