package sqlval

import (
	"strings"
	"unicode/utf8"
)

// LikePattern is a compiled LIKE pattern. The wildcards are T-SQL's: % matches any run of
// characters, _ any one character, [abc] and [a-f] one character of a set or range, [^a] one
// character not in it. An unclosed [ is a literal. Matching is case-sensitive and ordinal (by
// code point), like the rest of the package's string comparisons. Common shapes ('abc', 'abc%',
// '%abc', '%abc%') compile to a single strings call.
type LikePattern struct {
	shape likeShape
	lit   string
	toks  []likeTok
}

type likeShape uint8

const (
	shapeGeneral likeShape = iota
	shapeExact
	shapePrefix
	shapeSuffix
	shapeContains
	shapeAll
)

type likeOp uint8

const (
	opLit likeOp = iota
	opAny
	opStar
	opClass
)

type likeTok struct {
	op     likeOp
	lit    string
	neg    bool
	ranges []rune // pairs lo, hi
}

// Like reports whether s matches the LIKE pattern. For a pattern used more than once, compile it
// with CompileLike.
func Like(s, pattern string) bool { return CompileLike(pattern).Match(s) }

// CompileLike compiles a LIKE pattern without an escape character.
func CompileLike(pattern string) *LikePattern { return CompileLikeEscape(pattern, -1) }

// CompileLikeEscape compiles a LIKE pattern with an ESCAPE character (-1 for none): the escape
// character makes the next character literal.
func CompileLikeEscape(pattern string, escape rune) *LikePattern {
	var toks []likeTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, likeTok{op: opLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		switch {
		case r == escape && i+n < len(pattern):
			r2, n2 := utf8.DecodeRuneInString(pattern[i+n:])
			lit.WriteRune(r2)
			i += n + n2
			continue
		case r == '%':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].op != opStar {
				toks = append(toks, likeTok{op: opStar})
			}
		case r == '_':
			flush()
			toks = append(toks, likeTok{op: opAny})
		case r == '[':
			if tok, used, ok := parseClass(pattern[i+1:]); ok {
				flush()
				toks = append(toks, tok)
				i += 1 + used
				continue
			}
			lit.WriteRune(r)
		default:
			lit.WriteRune(r)
		}
		i += n
	}
	flush()
	return shapeOf(toks)
}

// parseClass parses the inside of [...] after the '['; used counts the bytes through ']'.
func parseClass(s string) (likeTok, int, bool) {
	end := strings.IndexByte(s, ']')
	if end <= 0 {
		return likeTok{}, 0, false
	}
	body := s[:end]
	tok := likeTok{op: opClass}
	if body[0] == '^' && len(body) > 1 {
		tok.neg = true
		body = body[1:]
	}
	rs := []rune(body)
	for k := 0; k < len(rs); k++ {
		if k+2 < len(rs) && rs[k+1] == '-' {
			tok.ranges = append(tok.ranges, rs[k], rs[k+2])
			k += 2
			continue
		}
		tok.ranges = append(tok.ranges, rs[k], rs[k])
	}
	return tok, end + 1, true
}

func shapeOf(toks []likeTok) *LikePattern {
	p := &LikePattern{toks: toks}
	isLit := func(i int) bool { return toks[i].op == opLit }
	isStar := func(i int) bool { return toks[i].op == opStar }
	switch {
	case len(toks) == 0:
		p.shape = shapeExact
	case len(toks) == 1 && isLit(0):
		p.shape, p.lit = shapeExact, toks[0].lit
	case len(toks) == 1 && isStar(0):
		p.shape = shapeAll
	case len(toks) == 2 && isLit(0) && isStar(1):
		p.shape, p.lit = shapePrefix, toks[0].lit
	case len(toks) == 2 && isStar(0) && isLit(1):
		p.shape, p.lit = shapeSuffix, toks[1].lit
	case len(toks) == 3 && isStar(0) && isLit(1) && isStar(2):
		p.shape, p.lit = shapeContains, toks[1].lit
	}
	return p
}

// Match reports whether s matches the whole pattern.
func (p *LikePattern) Match(s string) bool {
	switch p.shape {
	case shapeExact:
		return s == p.lit
	case shapePrefix:
		return strings.HasPrefix(s, p.lit)
	case shapeSuffix:
		return strings.HasSuffix(s, p.lit)
	case shapeContains:
		return strings.Contains(s, p.lit)
	case shapeAll:
		return true
	}
	ok, _ := p.match(s)
	return ok
}

// match matches the pattern against all of s. It is the classic wildcard matcher that backtracks
// only to the most recent %, which is complete because every other token consumes a fixed text
// (a literal) or exactly one character; it runs in O(len(s) * len(toks)). lead is the byte
// offset where the text after a leading % starts matching in the match found, which is the
// leftmost such offset: the matcher tries the leading % shortest first and never returns to it
// once a later % is reached (a later % can absorb whatever an earlier start leaves over).
func (p *LikePattern) match(s string) (ok bool, lead int) {
	toks := p.toks
	si, ti := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.op {
			case opStar:
				starTi, starSi = ti, si
				if ti == 0 {
					lead = si
				}
				ti++
				continue
			case opLit:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			case opAny:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case opClass:
				if si < len(s) {
					r, n := utf8.DecodeRuneInString(s[si:])
					if t.matches(r) {
						si += n
						ti++
						continue
					}
				}
			}
		} else if si == len(s) {
			return true, lead
		}
		if starTi < 0 || starSi >= len(s) {
			return false, 0
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		if starTi == 0 {
			lead = starSi
		}
		ti, si = starTi+1, starSi
	}
}

func (t *likeTok) matches(r rune) bool {
	in := false
	for k := 0; k+1 < len(t.ranges); k += 2 {
		if r >= t.ranges[k] && r <= t.ranges[k+1] {
			in = true
			break
		}
	}
	return in != t.neg
}

// Index returns the 1-based character position where the pattern first matches as PATINDEX does,
// or 0. A pattern that starts with % may match anywhere, and the position is where the text after
// the leading % starts matching; a pattern without a leading % must match from the start. It is
// one pass of the LIKE matcher (see match), linear in len(s) for a given pattern.
func (p *LikePattern) Index(s string) int64 {
	if len(p.toks) == 0 || p.toks[0].op != opStar {
		if p.Match(s) {
			return 1
		}
		return 0
	}
	if len(p.toks) == 1 {
		return 1
	}
	ok, lead := p.match(s)
	if !ok {
		return 0
	}
	return int64(utf8.RuneCountInString(s[:lead])) + 1
}
