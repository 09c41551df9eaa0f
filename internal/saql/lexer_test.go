package saql

import (
	"fmt"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		src  string
		want string // tokens as kind:text@line:col, space separated
	}{
		{"SELECT a", "ident:SELECT@1:1 ident:a@1:8"},
		{"select\n  Foo_1", "ident:select@1:1 ident:Foo_1@2:3"},
		{"[a b] [x]]y] \"q\"\"r\"", "qident:a b@1:1 qident:x]y@1:7 qident:q\"r@1:14"},
		{"'it''s' N'ü' n'x'", "string:it's@1:1 nstring:ü@1:9 nstring:x@1:14"},
		{"Name'x'", "ident:Name@1:1 string:x@1:5"},
		{"1 42 1.5 1e3 2.5E-4 7e+2", "int:1@1:1 int:42@1:3 float:1.5@1:6 float:1e3@1:10 float:2.5E-4@1:14 float:7e+2@1:21"},
		{"= <> != < <= > >= + - * / % || ( ) , . ;",
			"op:=@1:1 op:<>@1:3 op:!=@1:6 op:<@1:9 op:<=@1:11 op:>@1:14 op:>=@1:16 op:+@1:19 op:-@1:21 op:*@1:23 op:/@1:25 op:%@1:27 op:||@1:29 op:(@1:32 op:)@1:34 op:,@1:36 op:.@1:38 op:;@1:40"},
		{"a -- comment\nb /* block\n comment */ c", "ident:a@1:1 ident:b@2:1 ident:c@3:13"},
		{"a-b", "ident:a@1:1 op:-@1:2 ident:b@1:3"},
		{"a--b", "ident:a@1:1"},
		{"été.ñ", "ident:été@1:1 op:.@1:4 ident:ñ@1:5"},
		{"a\tb\r\nc", "ident:a@1:1 ident:b@1:3 ident:c@2:1"},
		{"", ""},
	}
	kinds := map[Kind]string{TokIdent: "ident", TokQuotedIdent: "qident", TokString: "string",
		TokNString: "nstring", TokInt: "int", TokFloat: "float", TokOp: "op"}
	for _, tt := range tests {
		toks, err := Lex(tt.src)
		if err != nil {
			t.Errorf("Lex(%q): %v", tt.src, err)
			continue
		}
		if last := toks[len(toks)-1]; last.Kind != TokEOF {
			t.Errorf("Lex(%q) does not end with EOF", tt.src)
		}
		var got []string
		for _, tok := range toks[:len(toks)-1] {
			got = append(got, fmt.Sprintf("%s:%s@%s", kinds[tok.Kind], tok.Text, tok.At))
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("Lex(%q)\n got  %s\n want %s", tt.src, g, tt.want)
		}
	}
}

func TestLexErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"'abc", "line 1:1: unterminated string opened at line 1:1; hint: add the closing '; write '' for a ' inside it"},
		{"a\n  N'abc''", "line 2:3: unterminated string opened at line 2:3; hint: add the closing '; write '' for a ' inside it"},
		{"\"abc", "line 1:1: unterminated quoted identifier opened at line 1:1; hint: add the closing \"; write \"\" for a \" inside it"},
		{"x /* a\n */ /* b", "line 2:5: unterminated /* comment opened at line 2:5; hint: close the comment with */"},
		{"[]", "line 1:1: empty bracketed identifier []; hint: write a name between the brackets"},
		{"1e", "line 1:1: malformed number \"1e\"; hint: write the exponent's digits, as in 1e3 or 2.5E-4"},
		{"1.2.3", "line 1:1: malformed number \"1.2.3\"; hint: a name cannot start with a digit; write it in brackets, as in [1st]"},
		{"1.x", "line 1:1: malformed number \"1.x\"; hint: a name cannot start with a digit; write it in brackets, as in [1st]"},
		{"a ! b", "line 1:3: unexpected character '!'; hint: write != or <> for not-equal, and NOT for negation"},
		{"a | b", "line 1:3: unexpected character '|'; hint: write || to concatenate, or OR for a logical or"},
		{"a && b", "line 1:3: unexpected character '&'; hint: write AND for a logical and"},
		{"`a`", "line 1:1: unexpected character '`'; hint: quote names with [brackets] or \"double quotes\", not backticks"},
		{"a ]", "line 1:3: unexpected character ']'; hint: a ] closes a [bracketed name]; is its [ missing?"},
		{"é\xff", "line 1:2: invalid UTF-8 byte 0xff; hint: the query must be UTF-8 text"},
	}
	for _, tt := range tests {
		_, err := Lex(tt.src)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Lex(%q):\n got  %v\n want %s", tt.src, err, tt.want)
		}
	}
}
