package saql

import (
	"fmt"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Error is a syntax error in a query: where it is (1-based), what was expected and found, and a
// hint saying what to do. It unwraps to an errcode.InvalidArgument error, so
// errcode.CodeOf(err) == errcode.InvalidArgument.
type Error struct {
	Line, Col int
	Msg       string // "expected FROM after the SELECT list, found \"FORM\""
	Hint      string // "did you mean FROM?"
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("line %d:%d: %s; hint: %s", e.Line, e.Col, e.Msg, e.Hint)
}

// Code is the catalogue code of every syntax error.
func (e *Error) Code() errcode.Code { return errcode.InvalidArgument }

// Unwrap exposes the error as an errcode error for errcode.CodeOf and errors.As.
func (e *Error) Unwrap() error {
	return &errcode.Error{Code: errcode.InvalidArgument, Msg: e.Error()}
}

// errAt builds an error at a position.
func errAt(at Pos, hint, format string, args ...any) *Error {
	return &Error{Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// suggest returns "did you mean X?" when word is a likely misspelling of one of the candidates
// (compared case-insensitively), or "".
func suggest(word string, candidates []string) string {
	if len(word) < 2 {
		return ""
	}
	w := strings.ToUpper(word)
	best, bestD := "", 3
	for _, c := range candidates {
		cu := strings.ToUpper(c)
		if cu == w {
			continue
		}
		limit := 1
		if len(cu) > 4 {
			limit = 2
		}
		if d := editDistance(w, cu); d <= limit && d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %s?", best)
}

// editDistance is the optimal-string-alignment distance between a and b: insertions,
// deletions, substitutions and transpositions of adjacent bytes each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
