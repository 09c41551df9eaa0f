package sqlval

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// String functions count and index characters as Unicode code points, 1-based where the
// reference says so. (Stream Analytics runs on .NET, whose strings are UTF-16; the two agree on
// every character outside the supplementary planes, such as emoji, which count 2 there.)

func registerString() {
	register(
		Func{"LEN", 1, 1, strFn1("LEN", func(s string) Value {
			return Bigint(int64(utf8.RuneCountInString(strings.TrimRight(s, " "))))
		})},
		Func{"UPPER", 1, 1, strFn1("UPPER", func(s string) Value { return String(strings.ToUpper(s)) })},
		Func{"LOWER", 1, 1, strFn1("LOWER", func(s string) Value { return String(strings.ToLower(s)) })},
		Func{"LTRIM", 1, 1, strFn1("LTRIM", func(s string) Value { return String(strings.TrimLeft(s, " ")) })},
		Func{"RTRIM", 1, 1, strFn1("RTRIM", func(s string) Value { return String(strings.TrimRight(s, " ")) })},
		Func{"REVERSE", 1, 1, strFn1("REVERSE", reverse)},
		Func{"TRIM", 1, 2, fnTrim},
		Func{"SUBSTRING", 3, 3, fnSubstring},
		Func{"LEFT", 2, 2, fnLeft},
		Func{"RIGHT", 2, 2, fnRight},
		Func{"CONCAT", 2, -1, fnConcat},
		Func{"REPLACE", 3, 3, fnReplace},
		Func{"CHARINDEX", 2, 3, fnCharIndex},
		Func{"PATINDEX", 2, 2, fnPatIndex},
		Func{"REGEXMATCH", 2, 2, fnRegexMatch},
		Func{"NCHAR", 1, 1, fnNchar},
	)
}

// strFn1 wraps a one-string function with NULL propagation and argument conversion.
func strFn1(name string, f func(string) Value) func([]Value) (Value, error) {
	return func(a []Value) (Value, error) {
		if a[0].kind == KindNull {
			return Null, nil
		}
		s, err := strArg(name, a[0])
		if err != nil {
			return Null, err
		}
		return f(s), nil
	}
}

// strArgs reads n string arguments; null is true when any is NULL.
func strArgs(name string, a []Value) (ss [3]string, null bool, err error) {
	for i := range a {
		if a[i].kind == KindNull {
			return ss, true, nil
		}
		if ss[i], err = strArg(name, a[i]); err != nil {
			return ss, false, err
		}
	}
	return ss, false, nil
}

func reverse(s string) Value {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return String(string(rs))
}

// runeOffset returns the byte offset of the k-th (0-based) character of s, or len(s).
func runeOffset(s string, k int64) int {
	if k <= 0 {
		return 0
	}
	for i := range s {
		if k == 0 {
			return i
		}
		k--
	}
	return len(s)
}

// TRIM(string) removes spaces from both ends; TRIM(characters, string) — the parsed form of
// TRIM(characters FROM string) — removes any of the given characters.
func fnTrim(a []Value) (Value, error) {
	ss, null, err := strArgs("TRIM", a)
	if null || err != nil {
		return Null, err
	}
	if len(a) == 1 {
		return String(strings.Trim(ss[0], " ")), nil
	}
	return String(strings.Trim(ss[1], ss[0])), nil
}

// SUBSTRING(expression, start, length), 1-based: a start below 1 still counts toward length
// ("the number of characters returned is the largest value of either the sum of start + length - 1
// or 0"); a start past the end gives ""; a negative length is an error.
func fnSubstring(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	s, err := strArg("SUBSTRING", a[0])
	if err != nil {
		return Null, err
	}
	start, err := intArg("SUBSTRING", a[1])
	if err != nil {
		return Null, err
	}
	length, err := intArg("SUBSTRING", a[2])
	if err != nil {
		return Null, err
	}
	if length < 0 {
		return Null, fmt.Errorf("%w: SUBSTRING length %d is negative", ErrArgument, length)
	}
	end := start + length // exclusive, 1-based
	if start > 0 && length > math.MaxInt64-start {
		end = math.MaxInt64
	}
	if start < 1 {
		start = 1
	}
	if end <= start {
		return String(""), nil
	}
	i := runeOffset(s, start-1)
	j := i + runeOffset(s[i:], end-start)
	return String(s[i:j]), nil
}

// LEFT(string, n) and RIGHT(string, n): the first or last n characters; negative n is an error.
func fnLeft(a []Value) (Value, error) {
	s, n, null, err := strAndCount("LEFT", a)
	if null || err != nil {
		return Null, err
	}
	return String(s[:runeOffset(s, n)]), nil
}

func fnRight(a []Value) (Value, error) {
	s, n, null, err := strAndCount("RIGHT", a)
	if null || err != nil {
		return Null, err
	}
	total := int64(utf8.RuneCountInString(s))
	if n >= total {
		return String(s), nil
	}
	return String(s[runeOffset(s, total-n):]), nil
}

func strAndCount(name string, a []Value) (string, int64, bool, error) {
	if anyNull(a) {
		return "", 0, true, nil
	}
	s, err := strArg(name, a[0])
	if err != nil {
		return "", 0, false, err
	}
	n, err := intArg(name, a[1])
	if err != nil {
		return "", 0, false, err
	}
	if n < 0 {
		return "", 0, false, fmt.Errorf("%w: %s count %d is negative", ErrArgument, name, n)
	}
	return s, n, false, nil
}

// CONCAT(v1, v2, ...): "CONCAT implicitly converts null values to empty strings. If CONCAT
// receives arguments with all NULL values, it will return an empty string." Other scalars are
// converted with the nvarchar(max) CAST rules.
func fnConcat(a []Value) (Value, error) {
	var b strings.Builder
	for _, v := range a {
		if v.kind == KindNull {
			continue
		}
		s, err := strArg("CONCAT", v)
		if err != nil {
			return Null, err
		}
		b.WriteString(s)
	}
	return String(b.String()), nil
}

// REPLACE(string, pattern, replacement): every occurrence replaced, ordinal and case-sensitive;
// an empty pattern leaves the string unchanged.
func fnReplace(a []Value) (Value, error) {
	ss, null, err := strArgs("REPLACE", a)
	if null || err != nil {
		return Null, err
	}
	if ss[1] == "" {
		return String(ss[0]), nil
	}
	return String(strings.ReplaceAll(ss[0], ss[1], ss[2])), nil
}

// CHARINDEX(expressionToFind, expressionToSearch [, start_location]): the 1-based position of the
// first occurrence at or after start_location (a missing, zero or negative start searches from the
// beginning), or 0 when not found. An empty expressionToFind gives 0, as in T-SQL.
func fnCharIndex(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	find, err := strArg("CHARINDEX", a[0])
	if err != nil {
		return Null, err
	}
	search, err := strArg("CHARINDEX", a[1])
	if err != nil {
		return Null, err
	}
	start := int64(1)
	if len(a) == 3 {
		if start, err = intArg("CHARINDEX", a[2]); err != nil {
			return Null, err
		}
		start = max(start, 1)
	}
	if find == "" {
		return Bigint(0), nil
	}
	off := runeOffset(search, start-1)
	i := strings.Index(search[off:], find)
	if i < 0 {
		return Bigint(0), nil
	}
	return Bigint(start + int64(utf8.RuneCountInString(search[off:off+i]))), nil
}

// PATINDEX('%pattern%', expression): the 1-based position of the first match of a LIKE pattern,
// or 0 (see LikePattern.Index).
func fnPatIndex(a []Value) (Value, error) {
	ss, null, err := strArgs("PATINDEX", a)
	if null || err != nil {
		return Null, err
	}
	return Bigint(CompileLike(ss[0]).Index(ss[1])), nil
}

// REGEXMATCH(expression, pattern): "the starting position of the first occurrence of a pattern in
// a specified expression, or 0 if the pattern is not found ... Pattern is interpreted as
// single-line, case-insensitive ... regular expression. If either pattern or expression is NULL,
// REGEXMATCH returns NULL. If pattern is invalid regular expression, REGEXMATCH returns 0." The
// position is 1-based in characters. Patterns are Go (RE2) syntax, which covers ECMAScript's
// except backreferences and lookaround; such patterns do not compile and so give 0.
func fnRegexMatch(a []Value) (Value, error) {
	ss, null, err := strArgs("REGEXMATCH", a)
	if null || err != nil {
		return Null, err
	}
	re := compileRegex(ss[1])
	if re == nil {
		return Bigint(0), nil
	}
	loc := re.FindStringIndex(ss[0])
	if loc == nil {
		return Bigint(0), nil
	}
	return Bigint(1 + int64(utf8.RuneCountInString(ss[0][:loc[0]]))), nil
}

// regexCache keeps compiled REGEXMATCH patterns. It stops growing at regexCacheMax entries so that
// patterns built from event data cannot grow memory without bound; later patterns compile per call.
var regexCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexCacheMax = 1024

// compileRegex returns the case-insensitive, single-line form of pattern, or nil if it is invalid.
func compileRegex(pattern string) *regexp.Regexp {
	regexCache.Lock()
	re, ok := regexCache.m[pattern]
	regexCache.Unlock()
	if ok {
		return re
	}
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		re = nil
	}
	regexCache.Lock()
	if regexCache.m == nil {
		regexCache.m = make(map[string]*regexp.Regexp)
	}
	if len(regexCache.m) < regexCacheMax {
		regexCache.m[pattern] = re
	}
	regexCache.Unlock()
	return re
}

// NCHAR(code): the character with the given Unicode code point; NULL when the code is not a valid
// character.
func fnNchar(a []Value) (Value, error) {
	if a[0].kind == KindNull {
		return Null, nil
	}
	n, err := intArg("NCHAR", a[0])
	if err != nil {
		return Null, err
	}
	if n < 0 || n > utf8.MaxRune || !utf8.ValidRune(rune(n)) {
		return Null, nil
	}
	return String(string(rune(n))), nil
}
