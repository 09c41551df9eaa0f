package sqlval

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"
)

// ErrJSON is wrapped by every ParseJSON failure.
var ErrJSON = errors.New("invalid JSON")

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 512

// ParseJSON decodes one JSON value (normally an event object) into a Value, following the
// Stream Analytics JSON input mapping ("Data Types (Azure Stream Analytics)", type mappings):
// an integer number that fits int64 becomes bigint, any other number float; true/false become
// bit; strings stay nvarchar(max) even when they look like datetimes (CAST them or use them in
// TIMESTAMP BY); objects become records keeping the field order; arrays become arrays; null
// becomes NULL. A repeated object key keeps its first position and its last value. Input must be
// valid UTF-8 and hold exactly one value, surrounded by optional whitespace.
//
// The decoder is hand-written: it copies data once into a string and returns substrings of it for
// field names and unescaped strings, so a decoded event costs a handful of allocations.
func ParseJSON(data []byte) (Value, error) {
	return ParseJSONString(string(data))
}

// ParseJSONString is ParseJSON over a string; the result's strings share memory with s.
func ParseJSONString(s string) (Value, error) {
	d := decoderPool.Get().(*decoder)
	d.s, d.i = s, 0
	v, err := d.top()
	d.s = ""
	decoderPool.Put(d)
	return v, err
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// decoder holds scratch stacks reused across calls: the fields and elements of the objects and
// arrays being decoded are pushed here and copied into one exact-size slice when each closes.
type decoder struct {
	s      string
	i      int
	depth  int
	fields []Field
	elems  []Value
	buf    []byte
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrJSON, fmt.Sprintf(format, args...), d.i)
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) top() (Value, error) {
	d.depth = 0
	d.ws()
	v, err := d.value()
	if err != nil {
		return Null, err
	}
	d.ws()
	if d.i != len(d.s) {
		return Null, d.errorf("unexpected %q after the value", d.s[d.i])
	}
	return v, nil
}

func (d *decoder) value() (Value, error) {
	if d.i >= len(d.s) {
		return Null, d.errorf("unexpected end of input")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.str()
		return String(s), err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return Bit(true), d.literal("true")
	case c == 'f':
		return Bit(false), d.literal("false")
	case c == 'n':
		return Null, d.literal("null")
	default:
		return Null, d.errorf("unexpected %q", c)
	}
}

func (d *decoder) literal(lit string) error {
	if len(d.s)-d.i < len(lit) || d.s[d.i:d.i+len(lit)] != lit {
		return d.errorf("invalid literal, expected %s", lit)
	}
	d.i += len(lit)
	return nil
}

func (d *decoder) object() (Value, error) {
	if d.depth++; d.depth > maxDepth {
		return Null, d.errorf("nesting deeper than %d", maxDepth)
	}
	d.i++ // {
	start := len(d.fields)
	var seen map[string]int // only for large objects; small ones are scanned
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		d.depth--
		return Record(nil), nil
	}
	for {
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return d.failObject(start, d.errorf("expected a field name"))
		}
		name, err := d.str()
		if err != nil {
			return d.failObject(start, err)
		}
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return d.failObject(start, d.errorf("expected ':' after field name"))
		}
		d.i++
		d.ws()
		v, err := d.value()
		if err != nil {
			return d.failObject(start, err)
		}
		if dup := d.findField(start, name, &seen); dup >= 0 {
			d.fields[dup].Value = v
		} else {
			d.fields = append(d.fields, Field{Name: name, Value: v})
		}
		d.ws()
		if d.i >= len(d.s) {
			return d.failObject(start, d.errorf("unterminated object"))
		}
		if d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.s[d.i] != '}' {
			return d.failObject(start, d.errorf("expected ',' or '}' in object"))
		}
		d.i++
		break
	}
	fs := make([]Field, len(d.fields)-start)
	copy(fs, d.fields[start:])
	clear(d.fields[start:])
	d.fields = d.fields[:start]
	d.depth--
	return Record(fs), nil
}

func (d *decoder) failObject(start int, err error) (Value, error) {
	clear(d.fields[start:])
	d.fields = d.fields[:start]
	return Null, err
}

func (d *decoder) findField(start int, name string, seen *map[string]int) int {
	fs := d.fields[start:]
	if len(fs) < 32 {
		for i := range fs {
			if fs[i].Name == name {
				return start + i
			}
		}
		return -1
	}
	if *seen == nil {
		*seen = make(map[string]int, 2*len(fs))
		for i := range fs {
			(*seen)[fs[i].Name] = start + i
		}
	}
	if i, ok := (*seen)[name]; ok {
		return i
	}
	(*seen)[name] = start + len(fs)
	return -1
}

func (d *decoder) array() (Value, error) {
	if d.depth++; d.depth > maxDepth {
		return Null, d.errorf("nesting deeper than %d", maxDepth)
	}
	d.i++ // [
	start := len(d.elems)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		d.depth--
		return Array(nil), nil
	}
	for {
		d.ws()
		v, err := d.value()
		if err != nil {
			return d.failArray(start, err)
		}
		d.elems = append(d.elems, v)
		d.ws()
		if d.i >= len(d.s) {
			return d.failArray(start, d.errorf("unterminated array"))
		}
		if d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.s[d.i] != ']' {
			return d.failArray(start, d.errorf("expected ',' or ']' in array"))
		}
		d.i++
		break
	}
	es := make([]Value, len(d.elems)-start)
	copy(es, d.elems[start:])
	clear(d.elems[start:])
	d.elems = d.elems[:start]
	d.depth--
	return Array(es), nil
}

func (d *decoder) failArray(start int, err error) (Value, error) {
	clear(d.elems[start:])
	d.elems = d.elems[:start]
	return Null, err
}

// str decodes a string starting at the opening quote. Strings without escapes are returned as
// substrings of the input.
func (d *decoder) str() (string, error) {
	d.i++ // "
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, n := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errorf("invalid UTF-8 in string")
			}
			d.i += n
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) strEscaped(start int) (string, error) {
	b := append(d.buf[:0], d.s[start:d.i]...)
	defer func() { d.buf = b[:0] }()
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c == '\\':
			if d.i+1 >= len(d.s) {
				return "", d.errorf("unterminated escape")
			}
			e := d.s[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.errorf("invalid \\u escape")
				}
				if utf8.ValidRune(r) {
					b = utf8.AppendRune(b, r)
					break
				}
				// A high surrogate must be followed by a low one; lone halves become U+FFFD
				// (as encoding/json does) so the result is valid UTF-8.
				if r >= 0xD800 && r < 0xDC00 && d.i+6 <= len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if r2, ok := d.hex4(); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						b = utf8.AppendRune(b, 0x10000+(r-0xD800)<<10+(r2-0xDC00))
						break
					}
					d.i = save
				}
				b = utf8.AppendRune(b, utf8.RuneError)
			default:
				return "", d.errorf("invalid escape \\%c", e)
			}
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, n := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errorf("invalid UTF-8 in string")
			}
			b = append(b, d.s[d.i:d.i+n]...)
			d.i += n
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.s) {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		c := d.s[d.i+k]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// number decodes a JSON number: bigint when it is an integer that fits int64, else float.
func (d *decoder) number() (Value, error) {
	start := d.i
	neg := d.s[d.i] == '-'
	if neg {
		d.i++
	}
	intStart := d.i
	var u uint64
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		u = u*10 + uint64(d.s[d.i]-'0') // may wrap; checked below by digit count
		d.i++
	}
	nd := d.i - intStart
	if nd == 0 {
		return Null, d.errorf("invalid number")
	}
	if nd > 1 && d.s[intStart] == '0' {
		return Null, d.errorf("invalid number: leading zero")
	}
	isFloat := false
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		fs := d.i
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
		}
		if d.i == fs {
			return Null, d.errorf("invalid number: no digits after '.'")
		}
		isFloat = true
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		es := d.i
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
		}
		if d.i == es {
			return Null, d.errorf("invalid number: no digits in exponent")
		}
		isFloat = true
	}
	if !isFloat {
		if nd <= 18 { // cannot overflow
			if neg {
				return Bigint(-int64(u)), nil
			}
			return Bigint(int64(u)), nil
		}
		if i, err := strconv.ParseInt(d.s[start:d.i], 10, 64); err == nil {
			return Bigint(i), nil
		}
	}
	f, err := strconv.ParseFloat(d.s[start:d.i], 64)
	if err != nil && (!errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0)) {
		return Null, d.errorf("number %s out of range", d.s[start:d.i])
	}
	return Float(f), nil
}
