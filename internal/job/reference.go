package job

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/eventfile"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// readReference loads reference data: a table (sqlite:// or postgres:// URL with ?table=), or a
// file holding a JSON array of objects, JSON lines or CSV. It is read when the job starts.
func readReference(path string) ([]sqlval.Value, error) {
	if sink.IsTableURL(path) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return sink.ReadTable(ctx, path)
	}
	evs, err := eventfile.Read(path)
	if err != nil {
		return nil, err
	}
	rows := make([]sqlval.Value, len(evs))
	for i, e := range evs {
		rows[i] = e.Value
	}
	return rows, nil
}
