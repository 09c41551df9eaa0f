package output

import (
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/sink"
)

// The follower's decisions as a pure state machine: no clock, no I/O, no goroutine. The Next
// loop (follow.go) calls the sources, feeds what they answered to observe, asks decide what to
// do, and does it.

// The two sources, as indexes of state.Src.
const (
	primary   = 0
	secondary = 1
)

// sourceNames are the names of the sources in events, Source and Status.
var sourceNames = [2]string{"primary", "secondary"}

// Event kinds.
const (
	EventSwitched        = "switched"         // the follower now reads the other source (errors or staleness)
	EventSwitchedBack    = "switched-back"    // the follower went back to the primary once it caught up (SwitchBack)
	EventCaughtUp        = "caught-up"        // the primary holds again everything the secondary holds
	EventSourceError     = "source-error"     // a source's calls began to fail
	EventSourceRecovered = "source-recovered" // a source answers again
)

// rules are the options decide applies.
type rules struct {
	Staleness  time.Duration // switch when the current source's high water has not advanced for this long …
	ErrorGrace time.Duration // … or when every call to it has failed for this long
	Poll       time.Duration // on the secondary, check the primary at least this often
	SwitchBack bool
}

// sourceState is what the follower knows of one source from its last calls.
type sourceState struct {
	Answered     bool          // its last call succeeded
	HW           sink.Position // its high water at its last answer with one
	HasHW        bool          // it held rows then
	Err          string        // the last failure, while failing
	FailingSince time.Time     // when the first call of the current run of failures began; zero while it answers
	AdvancedAt   time.Time     // when its high water last changed, or it became the current source
	CheckedAt    time.Time     // when it was last called
}

// state is the follower's state: where it is, which source it reads, what it knows of both.
type state struct {
	Current  int           // primary or secondary
	Pos      sink.Position // the last row returned (sink.Beginning before any)
	Src      [2]sourceState
	CaughtUp bool // "caught-up" was emitted for the primary's current catch-up
}

// result is the outcome of one call to a source.
type result struct {
	Err   error
	Known bool // the call was HighWater: HW and HasHW are its answer
	HW    sink.Position
	HasHW bool
}

// observe records the result of a call to source i that began at start, and returns the events
// it causes: source-error at the first failure after answers, source-recovered at the first
// answer after failures.
func (s state) observe(i int, r result, start time.Time) (state, []Event) {
	src := s.Src[i]
	src.CheckedAt = start
	var evs []Event
	if r.Err != nil {
		if src.FailingSince.IsZero() {
			src.FailingSince = start
			evs = append(evs, Event{Time: start, Kind: EventSourceError, From: sourceNames[i], Position: s.Pos, Reason: r.Err.Error()})
		}
		src.Answered, src.Err = false, r.Err.Error()
		s.Src[i] = src
		return s, evs
	}
	if !src.FailingSince.IsZero() {
		evs = append(evs, Event{Time: start, Kind: EventSourceRecovered, From: sourceNames[i], Position: s.Pos,
			Reason: fmt.Sprintf("answering again after failing since %s", src.FailingSince.Format(time.RFC3339))})
	}
	src.Answered, src.Err, src.FailingSince = true, "", time.Time{}
	if src.AdvancedAt.IsZero() || r.Known && (r.HasHW != src.HasHW || r.HW != src.HW) {
		src.AdvancedAt = start // staleness counts from the first answer
	}
	if r.Known {
		src.HW, src.HasHW = r.HW, r.HasHW
	}
	s.Src[i] = src
	return s, evs
}

// otherDue reports whether the source not being read must be called now: when a rule about the
// current source may switch (it is stale or has been failing long enough), and, reading the
// secondary, to see whether the primary caught up: each poll while the reader has nothing to
// read (idle), at least every Poll while it reads a backlog. A failing primary is called at most
// every ErrorGrace, so one that hangs does not slow reading the secondary much.
func (s state) otherDue(r rules, now time.Time, idle bool) bool {
	cur, oth := s.Src[s.Current], s.Src[1-s.Current]
	if cur.failingFor(now) >= r.ErrorGrace || cur.Answered && now.Sub(cur.AdvancedAt) >= r.Staleness {
		return true
	}
	if s.Current != secondary {
		return false
	}
	if oth.CheckedAt.IsZero() {
		return true
	}
	since := now.Sub(oth.CheckedAt)
	if !oth.FailingSince.IsZero() {
		return since >= r.ErrorGrace
	}
	return idle || since >= r.Poll
}

// failingFor returns how long every call to src has failed; 0 while it answers.
func (src sourceState) failingFor(now time.Time) time.Duration {
	if src.Answered || src.FailingSince.IsZero() {
		return 0
	}
	return max(now.Sub(src.FailingSince), 0)
}

// covers reports whether src, at its last answer, held every row up to pos.
func (src sourceState) covers(pos sink.Position) bool {
	return pos == sink.Beginning || src.HasHW && !src.HW.Less(pos)
}

// decide applies the rules at now and returns the new state and the events of what it decided:
//
//   - reading the secondary, when both answer and the primary holds everything the secondary
//     holds and the reader has read: "caught-up" (once per catch-up), and with SwitchBack,
//     "switched-back" to the primary;
//   - when every call to the current source has failed for ErrorGrace and the other answers:
//     "switched";
//   - when the current source answers but its high water has not advanced for Staleness, and
//     the other answers with rows after the reader's position: "switched".
func (s state) decide(r rules, now time.Time) (state, []Event) {
	var evs []Event
	cur, oth := s.Src[s.Current], s.Src[1-s.Current]
	if s.Current == secondary && cur.Answered && oth.Answered {
		p := oth
		caughtUp := p.covers(s.Pos) && (!cur.HasHW || p.covers(cur.HW))
		if caughtUp && !s.CaughtUp {
			evs = append(evs, s.event(now, EventCaughtUp, secondary, primary,
				fmt.Sprintf("the primary's high water %s is at or after the secondary's %s", posString(p.HW, p.HasHW), posString(cur.HW, cur.HasHW))))
		}
		s.CaughtUp = caughtUp
		if caughtUp && r.SwitchBack {
			evs = append(evs, s.event(now, EventSwitchedBack, secondary, primary, "the primary caught up with the secondary"))
			return s.switchTo(primary, now), evs
		}
	}
	to := 1 - s.Current
	if d := cur.failingFor(now); d > 0 && d >= r.ErrorGrace && oth.Answered {
		evs = append(evs, s.event(now, EventSwitched, s.Current, to,
			fmt.Sprintf("every call to the %s has failed for %s (%s) and the %s answers", sourceNames[s.Current], d.Round(time.Millisecond), cur.Err, sourceNames[to])))
		return s.switchTo(to, now), evs
	}
	if d := now.Sub(cur.AdvancedAt); cur.Answered && d >= r.Staleness && oth.Answered && oth.HasHW && s.Pos.Less(oth.HW) {
		evs = append(evs, s.event(now, EventSwitched, s.Current, to,
			fmt.Sprintf("the %s's high water %s has not advanced for %s and the %s has rows after the reader's position (up to %s)",
				sourceNames[s.Current], posString(cur.HW, cur.HasHW), d.Round(time.Millisecond), sourceNames[to], posString(oth.HW, true))))
		return s.switchTo(to, now), evs
	}
	return s, evs
}

// switchTo makes source i current. Its high water counts as advanced now, so it gets a whole
// Staleness period before the staleness rule can switch away from it.
func (s state) switchTo(i int, now time.Time) state {
	s.Current, s.CaughtUp = i, false
	s.Src[i].AdvancedAt = now
	return s
}

func (s state) event(now time.Time, kind string, from, to int, reason string) Event {
	return Event{Time: now, Kind: kind, From: sourceNames[from], To: sourceNames[to], Position: s.Pos, Reason: reason}
}

// posString shows a position in messages: its time in RFC 3339 and its key.
func posString(pos sink.Position, ok bool) string {
	switch {
	case !ok:
		return "(no rows)"
	case pos == sink.Beginning:
		return "(beginning)"
	}
	return fmt.Sprintf("%s %q", sink.TicksTime(pos.Time).Format(time.RFC3339Nano), pos.Key)
}
