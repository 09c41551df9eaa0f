package saql

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that the parser never panics, that every error has a position inside the
// text and a hint, and that every query it accepts round-trips through String().
func FuzzParse(f *testing.F) {
	for _, tt := range queryTests {
		f.Add(tt.src)
	}
	for _, tt := range errorTests {
		f.Add(tt.src)
	}
	f.Add("SELECT - -1, a--b\nFROM t")
	f.Add("SELECT [a]]b], \"c\"\"d\", N'x''y' FROM [in put] AS [a.b]")
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not *Error: %v", src, err, err)
			}
			if se.Line < 1 || se.Col < 1 || se.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("Parse(%q) error at %d:%d is outside the text: %v", src, se.Line, se.Col, err)
			}
			if se.Hint == "" || se.Msg == "" {
				t.Fatalf("Parse(%q) error lacks a message or hint: %v", src, err)
			}
			return
		}
		checkRoundTrip(t, src, q)
	})
}
