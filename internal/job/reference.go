package job

import (
	"github.com/tandem-streaming/tandem/internal/eventfile"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// readReference loads reference data: a JSON array of objects, JSON lines or CSV.
func readReference(path string) ([]sqlval.Value, error) {
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
