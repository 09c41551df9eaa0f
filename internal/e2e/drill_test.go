package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// drillReport is the part of `tandem drill -o json` the test checks.
type drillReport struct {
	EventsAccepted int64   `json:"eventsAccepted"`
	EventsRead     int64   `json:"eventsCountedInRowsRead"`
	EventsLost     int64   `json:"eventsLost"`
	RowsRead       int64   `json:"rowsRead"`
	DuplicateRows  int64   `json:"duplicateRowsRead"`
	MissingRows    int64   `json:"missingRowsAtReader"`
	RTOSeconds     float64 `json:"rtoSeconds"`
	CatchUpSeconds float64 `json:"catchUpSeconds"`
	Diff           struct {
		Equal    bool  `json:"equal"`
		Compared int64 `json:"compared"`
	} `json:"diff"`
	Producer []struct {
		Name     string `json:"name"`
		Replayed int64  `json:"replayedEvents"`
	} `json:"producer"`
	Timeline []string `json:"timeline"`
}

// TestDrill runs the whole rehearsal as a user does: `tandem drill` starts two real region
// processes, deploys the same job in both (east writing SQLite, west a real PostgreSQL), sends
// a steady load through the dual-write producer, kills east with SIGKILL, fails the alias over,
// keeps the output reader going on west, restarts east, waits for it to catch up from its
// spool and checkpoint, and compares. What must hold: no row read twice, none missed, no
// accepted event missing from the rows read, and the two regions' outputs identical.
func TestDrill(t *testing.T) {
	pg := sinktest.Postgres(t)
	dir := t.TempDir()
	stderr := filepath.Join(dir, "drill.stderr")
	errf, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(tandemBin, "drill", "--dir", filepath.Join(dir, "drill"), "--keep", "--postgres", pg,
		"--steady", "5s", "--outage", "6s", "--staleness", "2s", "--rate", "300", "--timeout", "4m", "-o", "json")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, errf
	runErr := cmd.Run()
	progress, _ := os.ReadFile(stderr)
	var rep drillReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("tandem drill (%v) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", runErr, err, out.String(), progress)
	}
	t.Logf("drill progress:\n%s", progress)
	if runErr != nil {
		t.Fatalf("tandem drill failed: %v\nreport:\n%s", runErr, out.String())
	}
	switch {
	case rep.EventsAccepted < 1000 || rep.RowsRead == 0:
		t.Fatalf("the drill ran too little load to mean anything: %+v", rep)
	case rep.DuplicateRows != 0 || rep.MissingRows != 0:
		t.Fatalf("the reader read %d rows twice and missed %d", rep.DuplicateRows, rep.MissingRows)
	case rep.EventsLost != 0 || rep.EventsRead != rep.EventsAccepted:
		t.Fatalf("events lost: %d accepted, %d counted in the rows read", rep.EventsAccepted, rep.EventsRead)
	case !rep.Diff.Equal || rep.Diff.Compared == 0:
		t.Fatalf("the outputs differ at the end: %+v", rep.Diff)
	case rep.RTOSeconds <= 0 || rep.CatchUpSeconds <= 0:
		t.Fatalf("the drill did not measure RTO and catch-up: %s", out.String())
	}
	replayed := int64(0)
	for _, p := range rep.Producer {
		if p.Name == "east" {
			replayed = p.Replayed
		}
	}
	if replayed == 0 {
		t.Fatalf("the producer replayed no event into east, so the outage was not rehearsed: %s", out.String())
	}
}
