package stream

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// windowKind is the window of a grouped SELECT.
type windowKind int

const (
	winNone     windowKind = iota // GROUP BY without a window: not allowed on a stream
	winHopping                    // tumbling is hopping with hop = size
	winSliding                    // a window at every point where its content changes
	winSession                    // closes after a gap, or at a max-duration check point
	winSnapshot                   // GROUP BY System.Timestamp(): events with equal timestamps
)

// windowSpec is a window's sizes in ticks.
type windowSpec struct {
	kind              windowKind
	size, hop, offset int64
	timeout, maxDur   int64
	partition         []evalFn // SessionWindow(…) OVER (PARTITION BY …)
}

// Limits on windows, checked when a query is compiled. MaxWindowSize is Stream Analytics' own
// limit ("the maximum size of a window in all cases is 7 days"); MaxWindowsPerEvent bounds the
// windows one event joins (size/hop of a hopping window, summed over Windows(…)): each is an
// accumulator per group, so HoppingWindow(millisecond, 6000000, 1) would put every event into
// six million windows.
const (
	MaxWindowSize      = 7 * 864_000_000_000 // 7 days in ticks
	MaxWindowsPerEvent = 10_000
)

var unitTicks = map[string]int64{
	"day": 864_000_000_000, "dd": 864_000_000_000, "d": 864_000_000_000,
	"hour": 36_000_000_000, "hh": 36_000_000_000,
	"minute": 600_000_000, "mi": 600_000_000, "n": 600_000_000,
	"second": TicksPerSecond, "ss": TicksPerSecond, "s": TicksPerSecond,
	"millisecond": 10_000, "ms": 10_000,
	"microsecond": 10, "mcs": 10,
}

// unitOf reads a window's time unit: a date part keyword (or a bare name where the parser did
// not expect one, as in Timeout(minute, 5)).
func unitOf(x saql.Expr) (int64, bool) {
	var name string
	switch x := x.(type) {
	case *saql.DatePart:
		name = x.Unit
	case *saql.ColumnRef:
		if len(x.Parts) != 1 {
			return 0, false
		}
		name = x.Parts[0].Name
	default:
		return 0, false
	}
	t, ok := unitTicks[strings.ToLower(name)]
	return t, ok
}

// durationArgs reads (unit, n) as ticks.
func durationArgs(call *saql.FuncCall, args []saql.Expr) (int64, error) {
	if len(args) != 2 {
		return 0, errAt(call.At, "write (unit, size), e.g. (second, 10)", "%s takes a time unit and a size", fullName(call))
	}
	u, ok := unitOf(args[0])
	if !ok {
		return 0, errAt(args[0].Pos(), "use day, hour, minute, second, millisecond or microsecond", "%s is not a window time unit", args[0].String())
	}
	n, ok := intLiteral(args[1])
	if !ok {
		return 0, errAt(args[1].Pos(), "write a whole number", "the size must be an integer constant, not %s", args[1].String())
	}
	if err := checkWindowSize(args[1], n, u); err != nil {
		return 0, err
	}
	return u * n, nil
}

// checkWindowSize refuses a window duration of n units above MaxWindowSize (before the
// multiplication, which could overflow).
func checkWindowSize(at saql.Expr, n, unit int64) error {
	if n > MaxWindowSize/unit {
		return errAt(at.Pos(), "use at most 7 days (day, 7), or (hour, 168)",
			"%s %ss is longer than 7 days, the largest window or duration Stream Analytics allows", at.String(), unitName(unit))
	}
	return nil
}

// unitName is a unit's plain name for messages.
func unitName(ticks int64) string {
	for _, n := range []string{"day", "hour", "minute", "second", "millisecond", "microsecond"} {
		if unitTicks[n] == ticks {
			return n
		}
	}
	return "unit"
}

// namedDuration reads Duration(unit, n), Hop(unit, n), Offset(unit, n), Timeout(…) or
// MaxDuration(…); ok is false when x is not such a call.
func namedDuration(x saql.Expr) (name string, ticks int64, ok bool, err error) {
	c, isCall := x.(*saql.FuncCall)
	if !isCall {
		return "", 0, false, nil
	}
	name = c.FuncName()
	switch name {
	case "DURATION", "HOP", "OFFSET", "TIMEOUT", "MAXDURATION":
		ticks, err = durationArgs(c, c.Args)
		return name, ticks, true, err
	}
	return "", 0, false, nil
}

// windowOf reads a window call of GROUP BY.
func (sc *scope) windowOf(c *saql.FuncCall) (windowSpec, error) {
	name := c.FuncName()
	w := windowSpec{}
	var sizes []int64
	named := map[string]int64{}
	unit := int64(0)
	for i, a := range c.Args {
		if n, t, ok, err := namedDuration(a); err != nil {
			return w, err
		} else if ok {
			named[n] = t
			continue
		}
		if i == 0 {
			u, ok := unitOf(a)
			if !ok {
				return w, errAt(a.Pos(), "use day, hour, minute, second, millisecond or microsecond", "%s is not a window time unit", a.String())
			}
			unit = u
			continue
		}
		n, ok := intLiteral(a)
		if !ok || unit == 0 {
			return w, errAt(a.Pos(), "write "+c.Name[0].Name+"(unit, size, …) with integer sizes", "invalid window argument %s", a.String())
		}
		if err := checkWindowSize(a, n, unit); err != nil {
			return w, err
		}
		sizes = append(sizes, n*unit)
	}
	pick := func(key string, i int) int64 {
		if v, ok := named[key]; ok {
			return v
		}
		if i < len(sizes) {
			return sizes[i]
		}
		return 0
	}
	switch name {
	case "TUMBLINGWINDOW", "TUMBLING":
		w.kind, w.size = winHopping, pick("DURATION", 0)
		w.hop, w.offset = w.size, pick("OFFSET", 1)
	case "HOPPINGWINDOW", "HOPPING":
		w.kind, w.size, w.hop = winHopping, pick("DURATION", 0), pick("HOP", 1)
		w.offset = pick("OFFSET", 2)
	case "SLIDINGWINDOW", "SLIDING":
		w.kind, w.size = winSliding, pick("DURATION", 0)
	case "SESSIONWINDOW", "SESSION":
		w.kind, w.timeout, w.maxDur = winSession, pick("TIMEOUT", 0), pick("MAXDURATION", 1)
		if w.timeout <= 0 || w.maxDur <= 0 {
			return w, errAt(c.At, "write SessionWindow(unit, timeout, maxDuration)", "a session window needs a positive timeout and max duration")
		}
		if c.Over != nil {
			var err error
			if w.partition, err = sc.compileAll(c.Over.PartitionBy); err != nil {
				return w, err
			}
		}
		return w, nil
	}
	if w.size <= 0 || (w.kind == winHopping && (w.hop <= 0 || w.hop > w.size)) {
		return w, errAt(c.At, "sizes must be positive and the hop no larger than the window", "invalid %s sizes", c.Name[0].Name)
	}
	if c.Over != nil {
		return w, errAt(c.Over.At, "only SessionWindow takes OVER (PARTITION BY …)", "%s takes no OVER clause", c.Name[0].Name)
	}
	if w.kind == winHopping && w.size/w.hop > MaxWindowsPerEvent {
		return w, errAt(c.At, fmt.Sprintf("make the hop at least 1/%d of the window, e.g. HoppingWindow(minute, 60, 1)", MaxWindowsPerEvent),
			"%s puts each event into %d windows; at most %d are allowed", c.Name[0].Name, w.size/w.hop, MaxWindowsPerEvent)
	}
	return w, nil
}

// windowsPerEvent is how many windows of w one event joins.
func (w windowSpec) windowsPerEvent() int64 {
	if w.kind == winHopping {
		return w.size / w.hop
	}
	return 1
}

// windowsOf reads the window of GROUP BY: one window, or Windows(def, …) or
// Windows(Window('id', def), …), whose rows are the union of each window's rows and tell their
// window apart with System.Window().Id.
func (sc *scope) windowsOf(c *saql.FuncCall) ([]windowSpec, []sqlval.Value, error) {
	if c.FuncName() != "WINDOWS" {
		w, err := sc.windowOf(c)
		return []windowSpec{w}, []sqlval.Value{sqlval.Null}, err
	}
	if len(c.Args) == 0 {
		return nil, nil, errAt(c.At, "write Windows(Window('a', TumblingWindow(minute, 1)), Window('b', HoppingWindow(minute, 5, 1)))", "Windows() needs at least one window")
	}
	var specs []windowSpec
	var ids []sqlval.Value
	seen := map[string]bool{}
	named := 0
	perEvent := int64(0)
	for _, a := range c.Args {
		def, ok := a.(*saql.FuncCall)
		if !ok {
			return nil, nil, errAt(a.Pos(), "each argument is a window or Window('id', window)", "%s is not a window", a.String())
		}
		id := sqlval.Null
		if def.FuncName() == "WINDOW" {
			lit, isLit := argAt(def, 0).(*saql.StringLit)
			inner, isCall := argAt(def, 1).(*saql.FuncCall)
			if len(def.Args) != 2 || !isLit || !isCall {
				return nil, nil, errAt(def.At, "write Window('id', TumblingWindow(minute, 10))", "Window takes an id string and a window")
			}
			if seen[strings.ToLower(lit.Value)] {
				return nil, nil, errAt(lit.At, "give each window its own id", "window id %q is used twice", lit.Value)
			}
			seen[strings.ToLower(lit.Value)] = true
			id, def = sqlval.String(lit.Value), inner
			named++
		}
		if !windowNames[def.FuncName()] || def.FuncName() == "WINDOWS" {
			return nil, nil, errAt(def.At, "use TumblingWindow, HoppingWindow, SlidingWindow or SessionWindow", "%s is not a window", def.Name[0].Name)
		}
		w, err := sc.windowOf(def)
		if err != nil {
			return nil, nil, err
		}
		specs, ids = append(specs, w), append(ids, id)
		if perEvent += w.windowsPerEvent(); perEvent > MaxWindowsPerEvent {
			return nil, nil, errAt(def.At, "use fewer windows or larger hops", "the windows of Windows() put each event into more than %d windows", MaxWindowsPerEvent)
		}
	}
	if named != 0 && named != len(c.Args) {
		return nil, nil, errAt(c.At, "use Window('id', …) for every window or for none", "either every window in Windows() has an id or none has")
	}
	return specs, ids, nil
}

func argAt(c *saql.FuncCall, i int) saql.Expr {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// ceilGrid is the smallest point of the grid k*step + offset that is ≥ t: the end of the
// window (exclusive start, inclusive end) that holds t.
func ceilGrid(t, step, offset int64) int64 {
	d := t - offset
	q := d / step
	if d%step != 0 && d > 0 {
		q++
	}
	return q*step + offset
}

// timeHeap is a min-heap of times with their keys; stale entries are skipped by whoever pops.
type timeHeap []timerEntry

type timerEntry struct {
	t   int64
	key string
}

func (h timeHeap) Len() int { return len(h) }
func (h timeHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].key < h[j].key
}
func (h timeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *timeHeap) add(t int64, key string) { heap.Push(h, timerEntry{t, key}) }

// due pops the entries at time t (and any before it), deduplicated, in key order.
func (h *timeHeap) due(t int64) []string {
	var keys []string
	for len(*h) > 0 && (*h)[0].t <= t {
		e := heap.Pop(h).(timerEntry)
		if len(keys) == 0 || keys[len(keys)-1] != e.key {
			keys = append(keys, e.key)
		}
	}
	return keys
}

func (h timeHeap) next() (int64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].t, true
}
