package output

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/sink"
)

// SourceStatus is one source as Status saw it.
type SourceStatus struct {
	Name      string        // "primary" or "secondary"
	HighWater sink.Position // its greatest row, when HasRows
	HasRows   bool
	Err       string // why it did not answer; empty when it did
	// FailingSince is when the follower's calls to it began failing; zero while they succeed.
	FailingSince time.Time
}

// Status is a snapshot of a follower and both its sources.
type Status struct {
	Source             string        // the source the follower reads: "primary" or "secondary"
	Position           sink.Position // the last row returned
	Primary, Secondary SourceStatus
	// PrimaryCaughtUp: both answered and the primary holds every row the secondary holds and
	// every row the reader has read.
	PrimaryCaughtUp bool
}

// Status calls both sources' HighWater now and reports them with the follower's position. It
// changes nothing in the follower.
func (f *Follower) Status(ctx context.Context) Status {
	st, _ := f.snapshot()
	out := Status{Source: sourceNames[st.Current], Position: st.Pos}
	var res [2]result
	for i, s := range f.sources {
		res[i] = s.highWater(ctx, f.callTimeout())
		ss := SourceStatus{Name: s.name, HighWater: res[i].HW, HasRows: res[i].HasHW, FailingSince: st.Src[i].FailingSince}
		if res[i].Err != nil {
			ss.Err = res[i].Err.Error()
		}
		if i == primary {
			out.Primary = ss
		} else {
			out.Secondary = ss
		}
	}
	if res[primary].Err == nil && res[secondary].Err == nil {
		p := sourceState{HW: res[primary].HW, HasHW: res[primary].HasHW}
		out.PrimaryCaughtUp = p.covers(st.Pos) && (!res[secondary].HasHW || p.covers(res[secondary].HW))
	}
	return out
}
