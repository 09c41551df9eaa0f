package sqlval

import (
	"fmt"
	"time"
)

// A datetime is stored as 100 ns ticks since 1970-01-01T00:00:00Z: the Stream Analytics datetime
// has "fractional seconds (7 digits, 100 nanoseconds precision) ... relative to UTC (time zone
// offset 0)" ("Data Types (Azure Stream Analytics)"). The valid range is that of SQL datetime2:
// 0001-01-01T00:00:00.0000000Z to 9999-12-31T23:59:59.9999999Z.
const (
	TicksPerSecond      = 10_000_000
	ticksPerMillisecond = 10_000
	ticksPerMicrosecond = 10
	ticksPerMinute      = 60 * TicksPerSecond
	ticksPerHour        = 60 * ticksPerMinute
	ticksPerDay         = 24 * ticksPerHour

	// MinTicks is 0001-01-01T00:00:00Z and MaxTicks 9999-12-31T23:59:59.9999999Z.
	MinTicks int64 = -62135596800 * TicksPerSecond
	MaxTicks int64 = 253402300800*TicksPerSecond - 1
)

// DatetimeFromTime returns the datetime of t, truncated to 100 ns. ok is false when t is outside
// the datetime range.
func DatetimeFromTime(t time.Time) (Value, bool) {
	sec := t.Unix()
	if sec < MinTicks/TicksPerSecond || sec > MaxTicks/TicksPerSecond {
		return Null, false
	}
	return Datetime(sec*TicksPerSecond + int64(t.Nanosecond()/100)), true
}

// Time returns the datetime as a UTC time.Time (the zero time for other kinds).
func (v Value) Time() time.Time {
	if v.kind != KindDatetime {
		return time.Time{}
	}
	return ticksTime(int64(v.n))
}

func ticksTime(t int64) time.Time {
	sec := floorDiv(t, TicksPerSecond)
	return time.Unix(sec, (t-sec*TicksPerSecond)*100).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// appendDatetime appends the ISO 8601 form Stream Analytics writes: 2026-01-02T03:04:05.0000000Z.
func appendDatetime(dst []byte, ticks int64) []byte {
	return ticksTime(ticks).AppendFormat(dst, "2006-01-02T15:04:05.0000000Z")
}

// ParseDatetime parses the ISO 8601 forms Stream Analytics converts to datetime ("string
// converted to datetime following ISO 8601 standard"): a date YYYY-MM-DD, optionally followed by
// 'T' or a space and hh:mm, hh:mm:ss or hh:mm:ss.fffffff (any number of fraction digits, '.' or
// ',' separated, truncated to 100 ns), optionally followed by Z or an offset ±hh:mm, ±hhmm or
// ±hh. Without a zone the time is taken as UTC. Leading and trailing spaces are ignored.
func ParseDatetime(s string) (int64, error) {
	p := dtParser{s: trimSpaces(s)}
	t, ok := p.parse()
	if !ok {
		return 0, fmt.Errorf("%w: %q is not an ISO 8601 datetime (use e.g. 2026-01-02T03:04:05Z)", ErrConversion, s)
	}
	return t, nil
}

func trimSpaces(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type dtParser struct {
	s string
	i int
}

func (p *dtParser) digits(n int) (int, bool) {
	if p.i+n > len(p.s) {
		return 0, false
	}
	v := 0
	for k := 0; k < n; k++ {
		c := p.s[p.i+k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

func (p *dtParser) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dtParser) parse() (int64, bool) {
	year, ok1 := p.digits(4)
	ok2 := p.byte('-')
	month, ok3 := p.digits(2)
	ok4 := p.byte('-')
	day, ok5 := p.digits(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return 0, false
	}
	var hour, minute, second int
	var frac int64
	if p.byte('T') || p.byte('t') || p.byte(' ') {
		var ok bool
		if hour, ok = p.digits(2); !ok || !p.byte(':') {
			return 0, false
		}
		if minute, ok = p.digits(2); !ok {
			return 0, false
		}
		if p.byte(':') {
			if second, ok = p.digits(2); !ok {
				return 0, false
			}
			if p.byte('.') || p.byte(',') {
				if frac, ok = p.fraction(); !ok {
					return 0, false
				}
			}
		}
		if hour > 23 || minute > 59 || second > 59 {
			return 0, false
		}
	}
	offset, ok := p.zone()
	if !ok || p.i != len(p.s) {
		return 0, false
	}
	days := daysFromCivil(year, month, day)
	t := days*ticksPerDay + int64(hour)*ticksPerHour + int64(minute)*ticksPerMinute +
		int64(second)*TicksPerSecond + frac - offset
	if t < MinTicks || t > MaxTicks {
		return 0, false
	}
	return t, true
}

// fraction reads one or more digits and returns them as ticks (7 digits), truncating the rest.
func (p *dtParser) fraction() (int64, bool) {
	start := p.i
	var v int64
	n := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		if n < 7 {
			v = v*10 + int64(p.s[p.i]-'0')
			n++
		}
		p.i++
	}
	if p.i == start {
		return 0, false
	}
	for ; n < 7; n++ {
		v *= 10
	}
	return v, true
}

// zone returns the offset east of UTC in ticks.
func (p *dtParser) zone() (int64, bool) {
	if p.i == len(p.s) {
		return 0, true
	}
	if p.byte('Z') || p.byte('z') {
		return 0, true
	}
	sign := int64(1)
	switch {
	case p.byte('+'):
	case p.byte('-'):
		sign = -1
	default:
		return 0, false
	}
	h, ok := p.digits(2)
	if !ok {
		return 0, false
	}
	m := 0
	if p.i < len(p.s) {
		p.byte(':')
		if m, ok = p.digits(2); !ok {
			return 0, false
		}
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return sign * (int64(h)*ticksPerHour + int64(m)*ticksPerMinute), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// algorithm), without going through time.Time.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civil is the broken-down form of a datetime.
type civil struct {
	year, month, day       int
	hour, minute, second   int
	frac                   int64 // ticks within the second
	yday                   int   // 1..366
	wday                   int   // 0 = Sunday
	daysSinceEpoch, inDays int64 // day number; ticks within the day
}

func toCivil(t int64) civil {
	days := floorDiv(t, ticksPerDay)
	in := t - days*ticksPerDay
	tm := ticksTime(days * ticksPerDay)
	c := civil{
		year: tm.Year(), month: int(tm.Month()), day: tm.Day(),
		yday: tm.YearDay(), wday: int(tm.Weekday()),
		daysSinceEpoch: days, inDays: in,
	}
	c.hour = int(in / ticksPerHour)
	c.minute = int(in % ticksPerHour / ticksPerMinute)
	c.second = int(in % ticksPerMinute / TicksPerSecond)
	c.frac = in % TicksPerSecond
	return c
}
