package agg

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// The aggregates and their semantics. Quotes are from the Stream Analytics reference pages
// ("<NAME> (Azure Stream Analytics)"); "T-SQL" marks a rule taken from SQL Server where those pages
// are silent.
//
//	COUNT(*), COUNT()  every event: "COUNT(*) returns the number of events without getting rid of
//	                   duplicates … This includes events that contain null values"; COUNT() is
//	                   "equivalent to COUNT(*)". bigint, 0 for none.
//	COUNT(x)           non-NULL x: "evaluates expression for each event in a group and returns the
//	                   number of nonnull values". bigint.
//	COUNT(DISTINCT x)  "the number of unique non-null values"; sameness is sqlval.Equal (bigint 2
//	                   and float 2.0 are one value; records compare field by field). bigint.
//	SUM(x)             "NULL values are ignored. For all NULL values the result is also NULL";
//	                   "in the most precise expression data type": bigint while every value is
//	                   bigint (overflow is an error, sqlval.ErrOverflow), float once one is float.
//	                   Other types are sqlval.ErrType ("SUM can be used with bigint and float").
//	AVG(x)             NULLs ignored, NULL for none; always float (AVG of 60 and 80 is 70.0):
//	                   ASA's "determined by the type of the evaluated result" leaves it open, and
//	                   bigint AVG truncation (T-SQL) would lose the fraction users expect.
//	MIN(x), MAX(x)     NULLs ignored, NULL for none; the result is the smallest/largest value as
//	                   it came in (bigint stays bigint). Values compare within one class: numbers
//	                   (bigint with float, exactly), bit, datetime, nvarchar(max) (ordinal). Mixed
//	                   classes, records and arrays are sqlval.ErrType. ASA "will try to implicitly
//	                   cast [a string] to FLOAT" unless it was explicitly CAST to nvarchar(max);
//	                   values here are typed dynamically, so a string is always compared as a string.
//	STDEV, VAR         sample statistics (divide by n−1), float; NULLs ignored; NULL for fewer than
//	                   two values (T-SQL: the sample statistics are undefined for one value).
//	STDEVP, VARP       population statistics (divide by n), float; NULL for none, 0 for one value.
//	TopOne() OVER (ORDER BY k1 [ASC|DESC], …)
//	                   "Returns the top-rank record": the first event in ORDER BY order; ties keep
//	                   the earliest added (deterministic; ASA does not say). Keys compare with
//	                   sqlval.Compare, so NULL sorts first ascending and last descending (as T-SQL).
//	                   ASA allows "only ordering by bigint, float and datetime types"; strings are
//	                   accepted too because JSON datetimes arrive as strings. NULL for no events.
//	Collect(), Collect(x)
//	                   "Returns an array with all record values from the window", in Add order
//	                   (ASA: "Ordering … is not guaranteed"; Tandem fixes event order). NULL values
//	                   are kept: unlike SUM or AVG the page does not say they are ignored, and the
//	                   array is a projection of every event. An empty array for no events.
const (
	nameCount   = "COUNT"
	nameSum     = "SUM"
	nameAvg     = "AVG"
	nameMin     = "MIN"
	nameMax     = "MAX"
	nameStdev   = "STDEV"
	nameStdevp  = "STDEVP"
	nameVar     = "VAR"
	nameVarp    = "VARP"
	nameTopOne  = "TOPONE"
	nameCollect = "COLLECT"
)

// displayName is how the reference spells each function, for messages.
var displayName = map[string]string{
	nameCount: "COUNT", nameSum: "SUM", nameAvg: "AVG", nameMin: "MIN", nameMax: "MAX",
	nameStdev: "STDEV", nameStdevp: "STDEVP", nameVar: "VAR", nameVarp: "VARP",
	nameTopOne: "TopOne", nameCollect: "Collect",
}

// Spec says which aggregate an accumulator computes.
type Spec struct {
	Name     string // upper case: COUNT, SUM, AVG, MIN, MAX, STDEV, STDEVP, VAR, VARP, TOPONE, COLLECT
	Distinct bool   // COUNT(DISTINCT x); Stream Analytics allows DISTINCT only in COUNT
	Star     bool   // COUNT(*)
	Desc     []bool // TOPONE: one flag per ORDER BY key, true for DESC; required, and only there
}

// Acc accumulates one aggregate over the events of one group. The arguments Add takes:
//
//	COUNT(*), COUNT()    none
//	COUNT(x), COUNT(DISTINCT x), SUM, AVG, MIN, MAX, STDEV, STDEVP, VAR, VARP
//	                     [x]
//	TopOne               [projection, k1, …, kn]: the projection is the whole event record for
//	                     TopOne() or the value of x for TopOne(x); k1…kn the ORDER BY keys
//	Collect              [projection]: the whole event record for Collect(), else x
//
// Add does not keep args (it copies what it needs), so the caller may reuse the slice. An error
// from Add leaves the state as it was before the call. Result may be called at any time and does
// not change the state. Values are immutable, so Results may be shared.
type Acc interface {
	// Add adds one event's arguments.
	Add(args []sqlval.Value) error
	// Result returns the aggregate of the values added so far.
	Result() sqlval.Value
	// AppendState appends the exact state to dst, for Restore.
	AppendState(dst []byte) []byte
}

// IsAggregate reports whether name (in any case) is an aggregate function this package
// implements.
func IsAggregate(name string) bool {
	_, ok := displayName[strings.ToUpper(name)]
	return ok
}

// Check reports whether spec with nargs arguments, as written in the query, is a valid aggregate
// call: TopOne() and Collect() count 0, TopOne(x) 1; the ORDER BY keys are not arguments here.
// Errors wrap sqlval.ErrArgument and say what to write instead.
func Check(spec Spec, nargs int) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	name := strings.ToUpper(spec.Name)
	d := displayName[name]
	switch {
	case name == nameCount && spec.Star:
		if nargs != 0 {
			return argErr("COUNT(*) takes no other argument, got %d", nargs)
		}
	case name == nameCount && spec.Distinct:
		if nargs != 1 {
			return argErr("COUNT(DISTINCT …) takes 1 argument, got %d", nargs)
		}
	case name == nameCount:
		if nargs > 1 {
			return argErr("COUNT takes 1 argument or *, got %d", nargs)
		}
	case name == nameTopOne || name == nameCollect:
		if nargs > 1 {
			return argErr("%s takes at most 1 argument (the projection), got %d", d, nargs)
		}
	default:
		if nargs != 1 {
			return argErr("%s takes 1 argument, got %d", d, nargs)
		}
	}
	return nil
}

// checkSpec checks what New needs: a known name and the flags that go with it.
func checkSpec(spec Spec) error {
	name := strings.ToUpper(spec.Name)
	d, ok := displayName[name]
	if !ok {
		return argErr("%s is not an aggregate function", spec.Name)
	}
	switch {
	case spec.Distinct && name != nameCount:
		return argErr("DISTINCT is allowed only in COUNT, not in %s; Stream Analytics supports COUNT(DISTINCT x) only", d)
	case spec.Star && name != nameCount:
		return argErr("%s(*) is not allowed; only COUNT takes *", d)
	case spec.Star && spec.Distinct:
		return argErr("COUNT(DISTINCT *) is not allowed; write COUNT(DISTINCT expression), or COUNT(DISTINCT input) for unique events")
	case name == nameTopOne && len(spec.Desc) == 0:
		return argErr("TopOne needs OVER (ORDER BY column [ASC|DESC], …)")
	case name != nameTopOne && len(spec.Desc) != 0:
		return argErr("%s takes no OVER (ORDER BY …); only TopOne does", d)
	}
	return nil
}

func argErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", sqlval.ErrArgument, fmt.Sprintf(format, args...))
}

// New returns an empty accumulator for spec. It panics if spec is invalid: call Check first.
func New(spec Spec) Acc {
	a, err := newAcc(spec)
	if err != nil {
		panic("agg.New: " + err.Error())
	}
	return a
}

func newAcc(spec Spec) (accState, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	switch name := strings.ToUpper(spec.Name); name {
	case nameCount:
		if spec.Distinct {
			return newCountDistinct(), nil
		}
		return &count{}, nil
	case nameSum:
		return &sum{}, nil
	case nameAvg:
		return &avg{}, nil
	case nameMin:
		return &minMax{}, nil
	case nameMax:
		return &minMax{max: true}, nil
	case nameStdev, nameStdevp, nameVar, nameVarp:
		return &variance{name: name}, nil
	case nameTopOne:
		return &topOne{desc: append([]bool(nil), spec.Desc...)}, nil
	default: // nameCollect
		return &collect{}, nil
	}
}

// accState is an Acc that can also load the state AppendState wrote.
type accState interface {
	Acc
	// restore loads the payload after the tag byte; it must consume all of r.
	restore(r *stateReader) error
	// tag is the first byte of the state, one per function and layout.
	tag() byte
}

// Restore returns an accumulator for spec with the state that AppendState wrote. The state must
// come from an accumulator of the same spec. It never panics on bad bytes; errors wrap
// sqlval.ErrCorrupt (or sqlval.ErrArgument for an invalid spec).
func Restore(spec Spec, state []byte) (Acc, error) {
	a, err := newAcc(spec)
	if err != nil {
		return nil, err
	}
	r := &stateReader{b: state, what: displayName[strings.ToUpper(spec.Name)]}
	t, err := r.byte("state tag")
	if err != nil {
		return nil, err
	}
	if t != a.tag() {
		r.pos = 0
		return nil, r.errorf("state tag %d is not %s's (%d): the state was written for another aggregate or version", t, r.what, a.tag())
	}
	if err := a.restore(r); err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return a, nil
}

// State tags: the first byte of every state. A changed layout takes a new tag, so that an old
// checkpoint is refused instead of misread.
const (
	tagCount byte = 1 + iota
	tagCountDistinct
	tagSum
	tagAvg
	tagMin
	tagMax
	tagStdev
	tagStdevp
	tagVar
	tagVarp
	tagTopOne
	tagCollect
)

// arityErr is the error of an Add with the wrong number of arguments: a planner bug.
func arityErr(name string, got int, want string) error {
	return fmt.Errorf("%w: %s.Add got %d arguments, want %s", sqlval.ErrArgument, name, got, want)
}

// typeErr is the error of an argument of a type the function does not take.
func typeErr(name string, v sqlval.Value, takes string) error {
	return fmt.Errorf("%w: %s of %s: %s takes %s; CAST the argument", sqlval.ErrType, name, describe(v), name, takes)
}

// describe renders a value for an error message: its type and a short form of it.
func describe(v sqlval.Value) string {
	s := v.String()
	if v.Kind() == sqlval.KindRecord || v.Kind() == sqlval.KindArray {
		s = string(v.AppendJSON(nil))
	}
	if len(s) > 40 {
		cut := 37
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	if v.Kind() == sqlval.KindString || v.Kind() == sqlval.KindDatetime {
		s = "'" + s + "'"
	}
	return v.Kind().String() + " value " + s
}
