package output

import (
	"errors"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/sink"
)

var (
	base      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	testRules = rules{Staleness: 30 * time.Second, ErrorGrace: 5 * time.Second, Poll: 200 * time.Millisecond}
)

func at(sec float64) time.Time { return base.Add(time.Duration(sec * float64(time.Second))) }

func p(n int64) sink.Position { return sink.Position{Time: n, Key: "k"} }

// up is a source that answers, with high water hw (none when hw < 0), advanced at advanced.
func up(hw int64, advanced float64) sourceState {
	s := sourceState{Answered: true, AdvancedAt: at(advanced), CheckedAt: at(advanced)}
	if hw >= 0 {
		s.HW, s.HasHW = p(hw), true
	}
	return s
}

// down is a source whose calls have failed since since.
func down(since float64) sourceState {
	return sourceState{Err: "connection refused", FailingSince: at(since), AdvancedAt: at(0), CheckedAt: at(since)}
}

func TestDecide(t *testing.T) {
	withSwitchBack := testRules
	withSwitchBack.SwitchBack = true
	tests := []struct {
		name     string
		st       state
		rules    rules
		now      float64
		current  int
		kinds    []string // events, in order
		caughtUp bool
	}{
		{name: "primary answers and advances: stay",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{up(10, 55), up(12, 59)}},
			now: 60, current: primary},
		{name: "primary failing for less than the grace: stay",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{down(56), up(12, 59)}},
			now: 60, current: primary},
		{name: "primary failing for the grace, secondary answers: switch",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{down(55), up(12, 59)}},
			now: 60, current: secondary, kinds: []string{EventSwitched}},
		{name: "primary failing for the grace, secondary failing too: stay",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{down(50), down(50)}},
			now: 60, current: primary},
		{name: "secondary answers but is behind the reader: switch on errors anyway",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{down(50), up(3, 59)}},
			now: 60, current: secondary, kinds: []string{EventSwitched}},
		{name: "primary stale for less than Staleness: stay",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{up(10, 31), up(20, 59)}},
			now: 60, current: primary},
		{name: "primary stale, secondary has rows after the reader: switch",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{up(10, 30), up(20, 59)}},
			now: 60, current: secondary, kinds: []string{EventSwitched}},
		{name: "primary stale, secondary has no rows after the reader: stay (the job is idle)",
			st:  state{Current: primary, Pos: p(10), Src: [2]sourceState{up(10, 0), up(10, 0)}},
			now: 60, current: primary},
		{name: "primary stale, secondary empty: stay",
			st:  state{Current: primary, Pos: sink.Beginning, Src: [2]sourceState{up(-1, 0), up(-1, 0)}},
			now: 60, current: primary},
		{name: "on the secondary, primary behind: nothing",
			st:  state{Current: secondary, Pos: p(20), Src: [2]sourceState{up(10, 59), up(20, 59)}},
			now: 60, current: secondary},
		{name: "on the secondary, primary caught up: caught-up, stay without SwitchBack",
			st:  state{Current: secondary, Pos: p(20), Src: [2]sourceState{up(20, 59), up(20, 59)}},
			now: 60, current: secondary, kinds: []string{EventCaughtUp}, caughtUp: true},
		{name: "caught-up is reported once per catch-up",
			st:  state{Current: secondary, Pos: p(20), CaughtUp: true, Src: [2]sourceState{up(25, 59), up(20, 59)}},
			now: 60, current: secondary, caughtUp: true},
		{name: "primary falls behind again: a new catch-up will be reported",
			st:  state{Current: secondary, Pos: p(20), CaughtUp: true, Src: [2]sourceState{up(25, 59), up(30, 59)}},
			now: 60, current: secondary, caughtUp: false},
		{name: "primary caught up with SwitchBack: caught-up, switched-back",
			st:    state{Current: secondary, Pos: p(20), Src: [2]sourceState{up(21, 59), up(20, 59)}},
			rules: withSwitchBack, now: 60, current: primary, kinds: []string{EventCaughtUp, EventSwitchedBack}},
		{name: "primary caught up with the secondary but not with the reader: not caught up",
			st:    state{Current: secondary, Pos: p(20), Src: [2]sourceState{up(15, 59), up(12, 59)}},
			rules: withSwitchBack, now: 60, current: secondary},
		{name: "on the secondary, primary failing: nothing",
			st:    state{Current: secondary, Pos: p(20), Src: [2]sourceState{down(10), up(20, 59)}},
			rules: withSwitchBack, now: 60, current: secondary},
		{name: "on the secondary, secondary failing for the grace, primary answers: switch to it",
			st:  state{Current: secondary, Pos: p(20), Src: [2]sourceState{up(15, 59), down(50)}},
			now: 60, current: primary, kinds: []string{EventSwitched}},
		{name: "on the secondary (caught up before), secondary stale, primary newer: switch",
			st:  state{Current: secondary, Pos: p(20), CaughtUp: true, Src: [2]sourceState{up(40, 59), up(20, 0)}},
			now: 60, current: primary, kinds: []string{EventSwitched}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rules
			if r == (rules{}) {
				r = testRules
			}
			got, evs := tc.st.decide(r, at(tc.now))
			if got.Current != tc.current {
				t.Errorf("current %s, want %s", sourceNames[got.Current], sourceNames[tc.current])
			}
			if got.CaughtUp != tc.caughtUp && got.Current == tc.st.Current {
				t.Errorf("CaughtUp %v, want %v", got.CaughtUp, tc.caughtUp)
			}
			if len(evs) != len(tc.kinds) {
				t.Fatalf("events %+v, want kinds %v", evs, tc.kinds)
			}
			for i, e := range evs {
				if e.Kind != tc.kinds[i] || e.Reason == "" || e.Position != tc.st.Pos || !e.Time.Equal(at(tc.now)) {
					t.Errorf("event %d: %+v, want kind %s at the reader's position", i, e, tc.kinds[i])
				}
			}
			if got.Current != tc.st.Current {
				if !got.Src[got.Current].AdvancedAt.Equal(at(tc.now)) {
					t.Errorf("the new source's AdvancedAt is %v, want the switch's time", got.Src[got.Current].AdvancedAt)
				}
				if got.CaughtUp {
					t.Error("CaughtUp survives a switch")
				}
			}
		})
	}
}

func TestObserve(t *testing.T) {
	fail := result{Err: errors.New("connection refused")}
	s := state{Pos: p(1)}
	var evs []Event

	s, _ = s.observe(secondary, result{}, at(0)) // a first answer without high water (a read)
	if !s.Src[secondary].Answered || !s.Src[secondary].AdvancedAt.Equal(at(0)) || s.Src[secondary].HasHW {
		t.Fatalf("first answer without high water: %+v", s.Src[secondary])
	}
	s, evs = s.observe(primary, result{Known: true, HW: p(5), HasHW: true}, at(0))
	if len(evs) != 0 || !s.Src[primary].Answered || !s.Src[primary].AdvancedAt.Equal(at(0)) {
		t.Fatalf("first answer: %+v %+v", s.Src[primary], evs)
	}
	s, _ = s.observe(primary, result{Known: true, HW: p(5), HasHW: true}, at(10))
	if !s.Src[primary].AdvancedAt.Equal(at(0)) || !s.Src[primary].CheckedAt.Equal(at(10)) {
		t.Fatalf("the same high water moved AdvancedAt: %+v", s.Src[primary])
	}
	s, _ = s.observe(primary, result{}, at(11)) // a read that answered: no high water
	if !s.Src[primary].AdvancedAt.Equal(at(0)) || s.Src[primary].HW != p(5) {
		t.Fatalf("an answer without high water changed it: %+v", s.Src[primary])
	}
	s, evs = s.observe(primary, fail, at(12))
	if len(evs) != 1 || evs[0].Kind != EventSourceError || evs[0].From != "primary" || s.Src[primary].Answered ||
		!s.Src[primary].FailingSince.Equal(at(12)) {
		t.Fatalf("first failure: %+v %+v", s.Src[primary], evs)
	}
	s, evs = s.observe(primary, fail, at(13))
	if len(evs) != 0 || !s.Src[primary].FailingSince.Equal(at(12)) || s.Src[primary].failingFor(at(15)) != 3*time.Second {
		t.Fatalf("second failure: %+v %+v", s.Src[primary], evs)
	}
	s, evs = s.observe(primary, result{Known: true, HW: p(7), HasHW: true}, at(14))
	if len(evs) != 1 || evs[0].Kind != EventSourceRecovered || !s.Src[primary].FailingSince.IsZero() ||
		!s.Src[primary].AdvancedAt.Equal(at(14)) || s.Src[primary].HW != p(7) {
		t.Fatalf("recovery: %+v %+v", s.Src[primary], evs)
	}
}

func TestOtherDue(t *testing.T) {
	tests := []struct {
		name string
		st   state
		now  float64
		idle bool
		want bool
	}{
		{"on the primary, fresh: no", state{Current: primary, Src: [2]sourceState{up(5, 50), up(5, 0)}}, 60, true, false},
		{"on the primary, stale: yes", state{Current: primary, Src: [2]sourceState{up(5, 30), up(5, 0)}}, 60, true, true},
		{"on the primary, failing under the grace: no", state{Current: primary, Src: [2]sourceState{down(57), up(5, 0)}}, 60, true, false},
		{"on the primary, failing for the grace: yes", state{Current: primary, Src: [2]sourceState{down(55), up(5, 0)}}, 60, true, true},
		{"on the secondary, idle: yes", state{Current: secondary, Src: [2]sourceState{up(5, 59.9), up(5, 50)}}, 60, true, true},
		{"on the secondary, reading, checked just now: no", state{Current: secondary, Src: [2]sourceState{up(5, 59.9), up(5, 50)}}, 60, false, false},
		{"on the secondary, reading, checked a poll ago: yes", state{Current: secondary, Src: [2]sourceState{up(5, 59.8), up(5, 50)}}, 60, false, true},
		{"on the secondary, primary never checked: yes", state{Current: secondary, Src: [2]sourceState{{}, up(5, 50)}}, 60, false, true},
		{"on the secondary, primary failing, checked under the grace ago: no", state{Current: secondary, Src: [2]sourceState{down(56), up(5, 50)}}, 60, true, false},
		{"on the secondary, primary failing, checked the grace ago: yes", state{Current: secondary, Src: [2]sourceState{down(55), up(5, 50)}}, 60, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.otherDue(testRules, at(tc.now), tc.idle); got != tc.want {
				t.Fatalf("otherDue = %v, want %v", got, tc.want)
			}
		})
	}
}
