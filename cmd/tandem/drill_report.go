package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client/dualwrite"
	"github.com/tandem-streaming/tandem/client/output"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// drillReport is what tandem drill prints. The must-be-zero numbers decide its exit status.
type drillReport struct {
	start   time.Time
	killed  time.Time
	seqSum  int64
	readSeq int64
	readErr error

	Dir                  string                   `json:"dir"`
	Fault                string                   `json:"fault"`
	Nodes                int                      `json:"nodesPerRegion"`
	Killed               []string                 `json:"killed"`
	Outputs              map[string]string        `json:"outputs"`
	DetectSeconds        float64                  `json:"timeToDetectSeconds"`
	AliasFailoverSeconds float64                  `json:"aliasFailoverSeconds"`
	ReaderSwitchSeconds  float64                  `json:"readerSwitchSeconds"`
	RTOSeconds           float64                  `json:"rtoSeconds"`
	CatchUpSeconds       float64                  `json:"catchUpSeconds"`
	EventsAccepted       int64                    `json:"eventsAccepted"`
	EventsRead           int64                    `json:"eventsCountedInRowsRead"`
	EventsLost           int64                    `json:"eventsLost"` // RPO, in events
	RowsRead             int64                    `json:"rowsRead"`
	DuplicateRows        int64                    `json:"duplicateRowsRead"`
	MissingRows          int64                    `json:"missingRowsAtReader"`
	Diff                 drillDiff                `json:"diff"`
	Producer             []dualwrite.RegionStatus `json:"producer"`
	JobDuplicates        []string                 `json:"jobDuplicateInputEvents"`
	Timeline             []string                 `json:"timeline"`
	mu                   sync.Mutex
}

type drillDiff struct {
	Equal              bool  `json:"equal"`
	Compared           int64 `json:"compared"`
	MissingOnPrimary   int64 `json:"missingOnPrimary"`
	MissingOnSecondary int64 `json:"missingOnSecondary"`
	Differ             int64 `json:"differ"`
}

// mark adds a timeline entry, time since the start.
func (r *drillReport) mark(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Timeline = append(r.Timeline, fmt.Sprintf("+%6.2fs ", time.Since(r.start).Seconds())+fmt.Sprintf(format, args...))
}

func (r *drillReport) since(t time.Time) float64 { return time.Since(t).Seconds() }

// takeReader copies the reader's numbers once it has stopped.
func (r *drillReport) takeReader(rd *drillReader) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	r.RowsRead, r.DuplicateRows = rd.mu.read, rd.mu.dups
	r.EventsRead, r.readSeq, r.readErr = rd.mu.events, rd.mu.seqSum, rd.mu.err
	r.EventsLost = r.EventsAccepted - r.EventsRead
}

// compare counts the rows of the final outputs the reader did not read, and diffs the outputs.
func (r *drillReport) compare(ctx context.Context, outs [2]sink.Reader, rd *drillReader) error {
	rd.mu.Lock()
	seen := rd.mu.rows
	rd.mu.Unlock()
	for _, o := range outs {
		missing := int64(0)
		after := sink.Beginning
		for {
			rows, err := o.ReadAfter(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			for _, row := range rows {
				if !seen[row.Pos()] {
					missing++
				}
			}
			after = rows[len(rows)-1].Pos()
		}
		r.MissingRows = max(r.MissingRows, missing)
	}
	res, err := output.Diff(ctx, outs[0], outs[1], output.DiffOptions{})
	if err != nil {
		return err
	}
	r.Diff = drillDiff{Equal: res.Equal(), Compared: res.Compared, MissingOnPrimary: res.MissingOnPrimaryCount,
		MissingOnSecondary: res.MissingOnSecondaryCount, Differ: res.DifferCount}
	return nil
}

// verdict is nil when every must-be-zero number is zero.
func (r *drillReport) verdict() error {
	var bad []string
	if r.DuplicateRows != 0 {
		bad = append(bad, fmt.Sprintf("%d rows read twice", r.DuplicateRows))
	}
	if r.MissingRows != 0 {
		bad = append(bad, fmt.Sprintf("%d rows missed by the reader", r.MissingRows))
	}
	if r.EventsLost != 0 || r.readSeq != r.seqSum {
		bad = append(bad, fmt.Sprintf("%d events lost (sequence sums %d read, %d sent)", r.EventsLost, r.readSeq, r.seqSum))
	}
	if !r.Diff.Equal {
		bad = append(bad, fmt.Sprintf("the outputs differ (%d missing on east, %d missing on west, %d differ)",
			r.Diff.MissingOnPrimary, r.Diff.MissingOnSecondary, r.Diff.Differ))
	}
	if r.readErr != nil {
		bad = append(bad, "the reader failed: "+r.readErr.Error())
	}
	if len(bad) > 0 {
		return errcode.New(errcode.Mismatch, "drill failed: %s; the regions' logs are in %s (run with --keep to keep them)", strings.Join(bad, "; "), r.Dir)
	}
	return nil
}

func (r *drillReport) print(cmd *cobra.Command) error {
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), r)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Tandem drill report (%s)\n\nFault: region east killed with SIGKILL (%d node(s) per region): %s\n\nTimeline:\n",
		r.Dir, r.Nodes, strings.Join(r.Killed, ", "))
	for _, t := range r.Timeline {
		fmt.Fprintf(w, "  %s\n", t)
	}
	rows := [][]string{
		{"time to detect", fmt.Sprintf("%.2fs", r.DetectSeconds), "kill -9 of east → east stops answering"},
		{"alias failover", fmt.Sprintf("%.2fs", r.AliasFailoverSeconds), "kill → the alias takes events in west"},
		{"reader switch", fmt.Sprintf("%.2fs", r.ReaderSwitchSeconds), "kill → the output reader follows west"},
		{"RTO", fmt.Sprintf("%.2fs", r.RTOSeconds), "the later of the two"},
		{"events lost (RPO)", fmt.Sprint(r.EventsLost), fmt.Sprintf("%d accepted, %d counted in the rows read (must be 0)", r.EventsAccepted, r.EventsRead)},
		{"rows read twice", fmt.Sprint(r.DuplicateRows), fmt.Sprintf("of %d rows read (must be 0)", r.RowsRead)},
		{"rows missed", fmt.Sprint(r.MissingRows), "rows of the final outputs the reader did not read (must be 0)"},
		{"catch-up", fmt.Sprintf("%.2fs", r.CatchUpSeconds), "east restarted → its output reached west's"},
		{"diff east/west", diffText(r.Diff), "(must be empty)"},
	}
	fmt.Fprintln(w)
	if err := printTable(w, []string{"MEASURE", "VALUE", "WHAT"}, rows); err != nil {
		return err
	}
	for _, p := range r.Producer {
		fmt.Fprintf(w, "producer → %s: %d events sent, %d replayed from its spool\n", p.Name, p.SentEvents, p.Replayed)
	}
	if len(r.JobDuplicates) > 0 {
		fmt.Fprintf(w, "duplicate input events dropped by the jobs: %s\n", strings.Join(r.JobDuplicates, ", "))
	}
	return nil
}

func diffText(d drillDiff) string {
	if d.Equal {
		return fmt.Sprintf("empty (%d rows compared)", d.Compared)
	}
	return fmt.Sprintf("%d missing on east, %d missing on west, %d differ", d.MissingOnPrimary, d.MissingOnSecondary, d.Differ)
}

// redactURL hides a password in a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
