package sqlval

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DatePart is the first argument of DATEADD, DATEDIFF, DATEPART and DATENAME.
type DatePart uint8

// The date parts of "DATEPART (Azure Stream Analytics)", plus nanosecond from T-SQL.
const (
	PartYear DatePart = iota
	PartQuarter
	PartMonth
	PartDayOfYear
	PartDay
	PartWeek
	PartWeekday
	PartHour
	PartMinute
	PartSecond
	PartMillisecond
	PartMicrosecond
	PartNanosecond
)

var partNames = map[string]DatePart{
	"year": PartYear, "yy": PartYear, "yyyy": PartYear,
	"quarter": PartQuarter, "qq": PartQuarter, "q": PartQuarter,
	"month": PartMonth, "mm": PartMonth, "m": PartMonth,
	"dayofyear": PartDayOfYear, "dy": PartDayOfYear, "y": PartDayOfYear,
	"day": PartDay, "dd": PartDay, "d": PartDay,
	"week": PartWeek, "wk": PartWeek, "ww": PartWeek,
	"weekday": PartWeekday, "dw": PartWeekday, "w": PartWeekday,
	"hour": PartHour, "hh": PartHour,
	"minute": PartMinute, "mi": PartMinute, "n": PartMinute,
	"second": PartSecond, "ss": PartSecond, "s": PartSecond,
	"millisecond": PartMillisecond, "ms": PartMillisecond,
	"microsecond": PartMicrosecond, "mcs": PartMicrosecond,
	"nanosecond": PartNanosecond, "ns": PartNanosecond,
}

// ParseDatePart resolves a date part keyword or abbreviation (case-insensitive): year yy yyyy,
// quarter qq q, month mm m, dayofyear dy y, day dd d, week wk ww, weekday dw w, hour hh,
// minute mi n, second ss s, millisecond ms, microsecond mcs, nanosecond ns.
func ParseDatePart(name string) (DatePart, error) {
	if p, ok := partNames[strings.ToLower(name)]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("%w: unknown date part %q; use year, quarter, month, dayofyear, day, week, weekday, hour, minute, second, millisecond, microsecond or nanosecond", ErrArgument, name)
}

func registerDate() {
	register(
		Func{"DATEADD", 3, 3, withPart(func(p DatePart, a []Value) (Value, error) { return DateAdd(p, a[0], a[1]) })},
		Func{"DATEDIFF", 3, 3, withPart(func(p DatePart, a []Value) (Value, error) { return DateDiff(p, a[0], a[1]) })},
		Func{"DATEPART", 2, 2, withPart(func(p DatePart, a []Value) (Value, error) { return DatePartOf(p, a[0]) })},
		Func{"DATENAME", 2, 2, withPart(func(p DatePart, a []Value) (Value, error) { return DateName(p, a[0]) })},
		Func{"DAY", 1, 1, func(a []Value) (Value, error) { return DatePartOf(PartDay, a[0]) }},
		Func{"MONTH", 1, 1, func(a []Value) (Value, error) { return DatePartOf(PartMonth, a[0]) }},
		Func{"YEAR", 1, 1, func(a []Value) (Value, error) { return DatePartOf(PartYear, a[0]) }},
		Func{"DATETIMEFROMPARTS", 7, 7, fnDatetimeFromParts},
	)
}

func withPart(f func(DatePart, []Value) (Value, error)) func([]Value) (Value, error) {
	return func(a []Value) (Value, error) {
		if a[0].kind != KindString {
			return Null, fmt.Errorf("%w: the first argument must be a date part keyword", ErrArgument)
		}
		p, err := ParseDatePart(a[0].s)
		if err != nil {
			return Null, err
		}
		return f(p, a[1:])
	}
}

// datetimeArg reads a datetime argument: a datetime, or a string in an ISO 8601 form (the
// reference: "date can be an expression, column expression, or string literal").
func datetimeArg(fn string, v Value) (int64, error) {
	switch v.kind {
	case KindDatetime:
		return int64(v.n), nil
	case KindString:
		return ParseDatetime(v.s)
	}
	return 0, fmt.Errorf("%w: %s takes a datetime, not %s", ErrType, fn, v.kind)
}

// DateAdd is DATEADD(part, number, date): date with number units of part added. Adding months,
// quarters or years keeps the day of month, clamped to the month's last day (Jan 31 + 1 month =
// Feb 28/29), as T-SQL does; dayofyear and weekday add days; nanoseconds are truncated to
// 100 ns ticks. A number that is a float is truncated. A result outside 0001..9999 is ErrOverflow.
func DateAdd(p DatePart, number, date Value) (Value, error) {
	if number.kind == KindNull || date.kind == KindNull {
		return Null, nil
	}
	var n int64
	switch number.kind {
	case KindBigint:
		n = int64(number.n)
	case KindFloat:
		b, ok := toBigint(number)
		if !ok {
			return Null, fmt.Errorf("%w: DATEADD number %s", ErrOverflow, number)
		}
		n = int64(b.n)
	default:
		return Null, fmt.Errorf("%w: DATEADD takes a bigint number, not %s", ErrType, number.kind)
	}
	t, err := datetimeArg("DATEADD", date)
	if err != nil {
		return Null, err
	}
	var r int64
	var ok bool
	switch p {
	case PartYear:
		r, ok = addMonths(t, n, 12)
	case PartQuarter:
		r, ok = addMonths(t, n, 3)
	case PartMonth:
		r, ok = addMonths(t, n, 1)
	case PartNanosecond:
		r, ok = addTicks(t, n/100, 1)
	default:
		r, ok = addTicks(t, n, partTicks(p))
	}
	if !ok {
		return Null, fmt.Errorf("%w: DATEADD result is outside 0001-01-01..9999-12-31", ErrOverflow)
	}
	return Datetime(r), nil
}

// partTicks is the length of a fixed-size date part.
func partTicks(p DatePart) int64 {
	switch p {
	case PartDayOfYear, PartDay, PartWeekday:
		return ticksPerDay
	case PartWeek:
		return 7 * ticksPerDay
	case PartHour:
		return ticksPerHour
	case PartMinute:
		return ticksPerMinute
	case PartSecond:
		return TicksPerSecond
	case PartMillisecond:
		return ticksPerMillisecond
	case PartMicrosecond:
		return ticksPerMicrosecond
	}
	return 1
}

func addTicks(t, n, unit int64) (int64, bool) {
	d, ok := mulInt64(n, unit)
	if !ok {
		return 0, false
	}
	r := t + d
	if (r > t) != (d > 0) || r < MinTicks || r > MaxTicks {
		return 0, false
	}
	return r, true
}

func addMonths(t, n, per int64) (int64, bool) {
	const maxMonths = 10000 * 12
	if n > maxMonths || n < -maxMonths {
		return 0, false
	}
	c := toCivil(t)
	m := int64(c.year)*12 + int64(c.month-1) + n*per
	y, mo := int(floorDiv(m, 12)), int(m-floorDiv(m, 12)*12)+1
	if y < 1 || y > 9999 {
		return 0, false
	}
	d := min(c.day, daysIn(y, mo))
	return daysFromCivil(y, mo, d)*ticksPerDay + c.inDays, true
}

// DateDiff is DATEDIFF(part, startdate, enddate): "the count (signed integer) of the specified
// datepart boundaries crossed between the specified startdate and enddate", as bigint. So
// DATEDIFF(year, '2025-12-31T23:59:59Z', '2026-01-01T00:00:00Z') is 1. Weeks start on Sunday
// (T-SQL's default DATEFIRST 7); dayofyear and weekday count days like day.
func DateDiff(p DatePart, start, end Value) (Value, error) {
	if start.kind == KindNull || end.kind == KindNull {
		return Null, nil
	}
	t1, err := datetimeArg("DATEDIFF", start)
	if err != nil {
		return Null, err
	}
	t2, err := datetimeArg("DATEDIFF", end)
	if err != nil {
		return Null, err
	}
	switch p {
	case PartYear, PartQuarter, PartMonth:
		c1, c2 := toCivil(t1), toCivil(t2)
		m1 := int64(c1.year)*12 + int64(c1.month-1)
		m2 := int64(c2.year)*12 + int64(c2.month-1)
		switch p {
		case PartYear:
			return Bigint(int64(c2.year - c1.year)), nil
		case PartQuarter:
			return Bigint(floorDiv(m2, 3) - floorDiv(m1, 3)), nil
		}
		return Bigint(m2 - m1), nil
	case PartWeek:
		// 1970-01-01 was a Thursday: day d is in the Sunday-started week floor((d+4)/7).
		w1 := floorDiv(floorDiv(t1, ticksPerDay)+4, 7)
		w2 := floorDiv(floorDiv(t2, ticksPerDay)+4, 7)
		return Bigint(w2 - w1), nil
	case PartNanosecond:
		r, ok := mulInt64(t2-t1, 100)
		if !ok {
			return Null, fmt.Errorf("%w: DATEDIFF in nanoseconds does not fit in bigint; use a larger date part", ErrOverflow)
		}
		return Bigint(r), nil
	}
	u := partTicks(p)
	return Bigint(floorDiv(t2, u) - floorDiv(t1, u)), nil
}

// DatePartOf is DATEPART(part, date), as bigint: year, quarter 1-4, month 1-12, dayofyear 1-366,
// day 1-31, week 1-54 (the week containing January 1 is week 1, weeks start on Sunday), weekday
// 1-7 (Sunday is 1), hour, minute, second, millisecond 0-999, microsecond 0-999999, nanosecond
// 0-999999900.
func DatePartOf(p DatePart, date Value) (Value, error) {
	if date.kind == KindNull {
		return Null, nil
	}
	t, err := datetimeArg("DATEPART", date)
	if err != nil {
		return Null, err
	}
	c := toCivil(t)
	var r int
	switch p {
	case PartYear:
		r = c.year
	case PartQuarter:
		r = (c.month-1)/3 + 1
	case PartMonth:
		r = c.month
	case PartDayOfYear:
		r = c.yday
	case PartDay:
		r = c.day
	case PartWeek:
		jan1 := ((c.wday-(c.yday-1))%7 + 7) % 7
		r = (c.yday-1+jan1)/7 + 1
	case PartWeekday:
		r = c.wday + 1
	case PartHour:
		r = c.hour
	case PartMinute:
		r = c.minute
	case PartSecond:
		r = c.second
	case PartMillisecond:
		r = int(c.frac / ticksPerMillisecond)
	case PartMicrosecond:
		r = int(c.frac / ticksPerMicrosecond)
	case PartNanosecond:
		r = int(c.frac * 100)
	}
	return Bigint(int64(r)), nil
}

// DateName is DATENAME(part, date): the English month name ("January") for month, the day name
// ("Sunday") for weekday, and the decimal DATEPART for every other part, as nvarchar(max).
func DateName(p DatePart, date Value) (Value, error) {
	v, err := DatePartOf(p, date)
	if err != nil || v.kind == KindNull {
		return v, err
	}
	switch p {
	case PartMonth:
		return String(time.Month(v.n).String()), nil
	case PartWeekday:
		return String(time.Weekday(v.n - 1).String()), nil
	}
	return String(strconv.FormatInt(int64(v.n), 10)), nil
}

// DATETIMEFROMPARTS(year, month, day, hour, minute, seconds, milliseconds): the datetime of the
// parts (T-SQL's argument order); NULL if any part is NULL; an invalid date or time is
// ErrArgument.
func fnDatetimeFromParts(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	var p [7]int64
	for i := range a {
		n, err := intArg("DATETIMEFROMPARTS", a[i])
		if err != nil {
			return Null, err
		}
		p[i] = n
	}
	y, mo, d, h, mi, s, ms := p[0], p[1], p[2], p[3], p[4], p[5], p[6]
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > int64(daysIn(int(y), int(mo))) ||
		h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0 || ms > 999 {
		return Null, fmt.Errorf("%w: DATETIMEFROMPARTS(%d, %d, %d, %d, %d, %d, %d) is not a valid datetime", ErrArgument, y, mo, d, h, mi, s, ms)
	}
	t := daysFromCivil(int(y), int(mo), int(d))*ticksPerDay + h*ticksPerHour + mi*ticksPerMinute +
		s*TicksPerSecond + ms*ticksPerMillisecond
	return Datetime(t), nil
}
