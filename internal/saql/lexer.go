package saql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// lexer turns query text into tokens. It tracks the line and column of every rune.
type lexer struct {
	src       string
	off       int // byte offset of the next rune
	line, col int // position of the next rune
	toks      []Token
}

// Lex splits src into tokens, ending with a TokEOF token. Comments and white space are dropped.
func Lex(src string) ([]Token, error) {
	lx := &lexer{src: src, line: 1, col: 1}
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		lx.toks = append(lx.toks, tok)
		if tok.Kind == TokEOF {
			return lx.toks, nil
		}
	}
}

func (lx *lexer) pos() Pos { return Pos{lx.line, lx.col} }

// peek returns the rune at byte offset off+ahead (in bytes; only used for ASCII look-ahead).
func (lx *lexer) peekByte(ahead int) byte {
	if lx.off+ahead < len(lx.src) {
		return lx.src[lx.off+ahead]
	}
	return 0
}

// advance consumes one rune and returns it.
func (lx *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(lx.src[lx.off:])
	lx.off += n
	if r == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	return r
}

func (lx *lexer) eof() bool { return lx.off >= len(lx.src) }

// skipSpace drops white space and comments.
func (lx *lexer) skipSpace() error {
	for !lx.eof() {
		c := lx.peekByte(0)
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.advance()
		case c == '-' && lx.peekByte(1) == '-':
			for !lx.eof() && lx.peekByte(0) != '\n' {
				lx.advance()
			}
		case c == '/' && lx.peekByte(1) == '*':
			start := lx.pos()
			lx.advance()
			lx.advance()
			for {
				if lx.eof() {
					return errAt(start, "close the comment with */", "unterminated /* comment opened at line %s", start)
				}
				if lx.peekByte(0) == '*' && lx.peekByte(1) == '/' {
					lx.advance()
					lx.advance()
					break
				}
				lx.advance()
			}
		default:
			r, _ := utf8.DecodeRuneInString(lx.src[lx.off:])
			if r != utf8.RuneError && unicode.IsSpace(r) {
				lx.advance()
				continue
			}
			return nil
		}
	}
	return nil
}

func (lx *lexer) next() (Token, error) {
	if err := lx.skipSpace(); err != nil {
		return Token{}, err
	}
	at := lx.pos()
	if lx.eof() {
		return Token{Kind: TokEOF, At: at}, nil
	}
	c := lx.peekByte(0)
	switch {
	case (c == 'N' || c == 'n') && lx.peekByte(1) == '\'':
		lx.advance()
		s, err := lx.quoted('\'', at, "string")
		return Token{Kind: TokNString, Text: s, At: at}, err
	case c == '\'':
		s, err := lx.quoted('\'', at, "string")
		return Token{Kind: TokString, Text: s, At: at}, err
	case c == '"':
		s, err := lx.quoted('"', at, "quoted identifier")
		if err == nil && s == "" {
			err = errAt(at, "write a name between the quotes", "empty quoted identifier")
		}
		return Token{Kind: TokQuotedIdent, Text: s, At: at}, err
	case c == '[':
		s, err := lx.quoted(']', at, "bracketed identifier")
		if err == nil && s == "" {
			err = errAt(at, "write a name between the brackets", "empty bracketed identifier []")
		}
		return Token{Kind: TokQuotedIdent, Text: s, At: at}, err
	case c >= '0' && c <= '9':
		return lx.number(at)
	case isIdentStart(lx.src[lx.off:]):
		start := lx.off
		for !lx.eof() && isIdentPart(lx.src[lx.off:]) {
			lx.advance()
		}
		return Token{Kind: TokIdent, Text: lx.src[start:lx.off], At: at}, nil
	}
	return lx.operator(at)
}

// quoted reads a literal delimited by open…close where a doubled close stands for itself:
// 'it”s', [a]]b], "say ""hi""".
func (lx *lexer) quoted(close byte, at Pos, what string) (string, error) {
	lx.advance() // the opening quote or bracket
	var b strings.Builder
	for {
		if lx.eof() {
			closeStr := string(close)
			return "", errAt(at, "add the closing "+closeStr+"; write "+closeStr+closeStr+" for a "+closeStr+" inside it",
				"unterminated %s opened at line %s", what, at)
		}
		start := lx.off
		if lx.peekByte(0) == close {
			lx.advance()
			if lx.peekByte(0) != close {
				return b.String(), nil
			}
			lx.advance()
			b.WriteByte(close)
			continue
		}
		lx.advance()
		b.WriteString(lx.src[start:lx.off])
	}
}

// number reads 42, 1.5, 1e3, 2.5E-4. A number must not run into letters.
func (lx *lexer) number(at Pos) (Token, error) {
	start := lx.off
	kind := TokInt
	digits := func() int {
		n := 0
		for c := lx.peekByte(0); c >= '0' && c <= '9'; c = lx.peekByte(0) {
			lx.advance()
			n++
		}
		return n
	}
	digits()
	if lx.peekByte(0) == '.' && isDigit(lx.peekByte(1)) {
		kind = TokFloat
		lx.advance()
		digits()
	}
	if c := lx.peekByte(0); c == 'e' || c == 'E' {
		kind = TokFloat
		lx.advance()
		if c := lx.peekByte(0); c == '+' || c == '-' {
			lx.advance()
		}
		if digits() == 0 {
			return Token{}, errAt(at, "write the exponent's digits, as in 1e3 or 2.5E-4", "malformed number %q", lx.src[start:lx.off])
		}
	}
	if !lx.eof() && (isIdentPart(lx.src[lx.off:]) || lx.peekByte(0) == '.') {
		for !lx.eof() && (isIdentPart(lx.src[lx.off:]) || lx.peekByte(0) == '.') {
			lx.advance()
		}
		return Token{}, errAt(at, "a name cannot start with a digit; write it in brackets, as in [1st]",
			"malformed number %q", lx.src[start:lx.off])
	}
	return Token{Kind: kind, Text: lx.src[start:lx.off], At: at}, nil
}

var twoCharOps = []string{"<>", "!=", "<=", ">=", "||"}

func (lx *lexer) operator(at Pos) (Token, error) {
	if lx.off+2 <= len(lx.src) {
		two := lx.src[lx.off : lx.off+2]
		for _, op := range twoCharOps {
			if two == op {
				lx.advance()
				lx.advance()
				return Token{Kind: TokOp, Text: op, At: at}, nil
			}
		}
	}
	c := lx.peekByte(0)
	if strings.IndexByte("=<>+-*/%(),.;", c) >= 0 {
		lx.advance()
		return Token{Kind: TokOp, Text: string(c), At: at}, nil
	}
	r, _ := utf8.DecodeRuneInString(lx.src[lx.off:])
	hint := "remove it, or put it inside a 'string' or a [bracketed name]"
	switch c {
	case '!':
		hint = "write != or <> for not-equal, and NOT for negation"
	case '|':
		hint = "write || to concatenate, or OR for a logical or"
	case '&':
		hint = "write AND for a logical and"
	case ']':
		hint = "a ] closes a [bracketed name]; is its [ missing?"
	case '`':
		hint = "quote names with [brackets] or \"double quotes\", not backticks"
	}
	if r == utf8.RuneError {
		return Token{}, errAt(at, "the query must be UTF-8 text", "invalid UTF-8 byte 0x%02x", c)
	}
	return Token{}, errAt(at, hint, "unexpected character %q", r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || (r != utf8.RuneError && unicode.IsLetter(r))
}

func isIdentPart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || (r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)))
}
