package saql

import (
	"fmt"
	"strings"
)

// Pos is a 1-based line and column in the query text. Columns count runes, a tab counts one.
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Kind is the lexical class of a token.
type Kind int

// The token kinds. Keywords are TokIdent tokens; the parser compares them case-insensitively.
const (
	TokEOF         Kind = iota
	TokIdent            // a name or keyword: Foo, select
	TokQuotedIdent      // [a name] or "a name"; Text holds the name without quotes
	TokString           // 'text'; Text holds the value with '' unescaped
	TokNString          // N'text'
	TokInt              // 42
	TokFloat            // 1.5, 1e3
	TokOp               // an operator or punctuation: = <> != < <= > >= + - * / % || ( ) , . ;
)

// Token is one lexical token.
type Token struct {
	Kind Kind
	Text string // the name, the decoded string value, the number as written, or the operator
	At   Pos
}

// describe renders a token for an error message: what was found.
func (t Token) describe() string {
	switch t.Kind {
	case TokEOF:
		return "end of query"
	case TokQuotedIdent:
		return fmt.Sprintf("[%s]", t.Text)
	case TokString:
		return quoteString(t.Text, false)
	case TokNString:
		return quoteString(t.Text, true)
	}
	return fmt.Sprintf("%q", t.Text)
}

// is reports whether t is the unquoted keyword kw (kw is upper case).
func (t Token) is(kw string) bool {
	return t.Kind == TokIdent && strings.EqualFold(t.Text, kw)
}

// isOp reports whether t is the operator or punctuation op.
func (t Token) isOp(op string) bool { return t.Kind == TokOp && t.Text == op }

// reserved are the words that cannot be an unquoted column, alias or source name; write them in
// brackets ([from]) to use them as names. After a dot (System.Timestamp, e.from) any word is a
// name. Function names such as COUNT or LAG are not reserved: a call is known by its "(".
var reserved = map[string]bool{
	"ALL": true, "AND": true, "APPLY": true, "AS": true, "ASC": true, "BETWEEN": true, "BY": true,
	"CASE": true, "CAST": true, "CROSS": true, "DESC": true, "DISTINCT": true, "ELSE": true,
	"END": true, "FALSE": true, "FROM": true, "FULL": true, "GROUP": true, "HAVING": true,
	"IN": true, "INNER": true, "INTO": true, "IS": true, "JOIN": true, "LEFT": true, "LIKE": true,
	"LIMIT": true, "NOT": true, "NULL": true, "ON": true, "OR": true, "ORDER": true, "OUTER": true,
	"OVER": true, "PARTITION": true, "RIGHT": true, "SELECT": true, "THEN": true, "TIMESTAMP": true,
	"TOP": true, "TRUE": true, "TRY_CAST": true, "UNION": true, "WHEN": true, "WHERE": true,
	"WITH": true,
}

// IsReserved reports whether word (any case) is a reserved word of SAQL.
func IsReserved(word string) bool { return reserved[strings.ToUpper(word)] }

// hintWords are the words a misspelt identifier is compared with to suggest "did you mean".
var hintWords = []string{
	"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "INTO", "UNION", "JOIN", "INNER", "LEFT",
	"OUTER", "CROSS", "APPLY", "WITH", "TIMESTAMP", "PARTITION", "DISTINCT", "BETWEEN", "LIKE",
	"CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "TRY_CAST", "OVER", "ORDER", "LIMIT",
	"DURATION", "NULL", "AND", "OR", "NOT",
}

// dateParts are the units a date function or window takes as its first, bare argument.
var dateParts = map[string]bool{
	"YEAR": true, "YY": true, "YYYY": true, "QUARTER": true, "QQ": true, "Q": true,
	"MONTH": true, "MM": true, "M": true, "DAYOFYEAR": true, "DY": true, "Y": true,
	"DAY": true, "DD": true, "D": true, "WEEK": true, "WK": true, "WW": true,
	"WEEKDAY": true, "DW": true, "HOUR": true, "HH": true, "MINUTE": true, "MI": true, "N": true,
	"SECOND": true, "SS": true, "S": true, "MILLISECOND": true, "MS": true,
	"MICROSECOND": true, "MCS": true, "NANOSECOND": true, "NS": true,
}

// unitFuncs are the functions whose first argument is a date part (DATEDIFF(minute, a, b)).
var unitFuncs = map[string]bool{
	"DATEADD": true, "DATEDIFF": true, "DATEPART": true, "DATENAME": true, "DATETRUNC": true,
	"TUMBLINGWINDOW": true, "HOPPINGWINDOW": true, "SLIDINGWINDOW": true, "SESSIONWINDOW": true,
	"DURATION": true, "HOP": true, "OFFSET": true, "ISFIRST": true,
}

// castTypes are the type names CAST and TRY_CAST accept, in their canonical spelling.
var castTypes = []string{"bigint", "float", "nvarchar(max)", "datetime", "bit", "record", "array"}
