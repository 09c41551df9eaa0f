package saql

import (
	"errors"
	"testing"
)

// errorTests are invalid queries and the exact error each gives: where, what was expected,
// what was found, and a hint.
var errorTests = []struct{ src, want string }{
	{"SELECT a,\n  b\n  FORM input",
		`line 3:3: expected FROM after the SELECT list, found "FORM"; hint: did you mean FROM?`},
	{"SELECT a FROM t\nWERE x > 1",
		`line 2:1: expected WHERE, GROUP BY, HAVING, UNION or the end of the statement, found "WERE"; hint: did you mean WHERE?`},
	{"SELEC a FROM t",
		`line 1:1: expected SELECT or WITH at the start of the query, found "SELEC"; hint: did you mean SELECT?`},
	{"SELECT a FROM t GROUP BY TumblingWindow(second, 1)\nHAVNG COUNT(*) > 1",
		`line 2:1: expected WHERE, GROUP BY, HAVING, UNION or the end of the statement, found "HAVNG"; hint: did you mean HAVING?`},
	{"SELECT a, FROM t",
		`line 1:11: expected an expression after ",", found "FROM"; hint: remove the comma after the last select item`},
	{"SELECT COUNT(* FROM t",
		`line 1:16: expected ) to close the arguments of COUNT, found "FROM"; hint: close the ( opened at line 1:13, or separate items with commas`},
	{"SELECT *\nFROM t\nWHERE (a + b > 1",
		`line 3:17: expected ) to close the parenthesis, found end of query; hint: the ( at line 3:7 is not closed`},
	{"SELECT *\nFROM t\nWHERE name = 'abc",
		`line 3:14: unterminated string opened at line 3:14; hint: add the closing '; write '' for a ' inside it`},
	{"SELECT a FROM t /* note",
		`line 1:17: unterminated /* comment opened at line 1:17; hint: close the comment with */`},
	{"SELECT [a FROM t",
		`line 1:8: unterminated bracketed identifier opened at line 1:8; hint: add the closing ]; write ]] for a ] inside it`},
	{"SELECT a FROM t1\nSELECT b INTO o2 FROM t2",
		`line 1:10: expected INTO before FROM: this query has 2 SELECT statements, so each must name its output; hint: add INTO <output> after the SELECT list; only a query with a single statement may omit INTO`},
	{"WITH s AS (SELECT a INTO o FROM t) SELECT * FROM s",
		`line 1:21: unexpected INTO inside a WITH step; hint: a WITH step is read by later statements; write INTO in the statement that outputs it`},
	{"SELECT CAST(x AS int) FROM t",
		`line 1:18: expected a type, found "int"; hint: whole numbers are bigint`},
	{"SELECT TRY_CAST(x AS flaot) FROM t",
		`line 1:22: expected a type, found "flaot"; hint: did you mean float?`},
	{"SELECT DATEDIFF(minut, a, b) FROM t",
		`line 1:17: expected a date part, found "minut"; hint: did you mean minute?`},
	{"SELECT a FROM t WHERE a == 1",
		`line 1:26: expected an expression after =, found "="; hint: SAQL compares with a single =`},
	{"SELECT a FROM t1 JOIN t2 WHERE x",
		`line 1:26: expected ON after the JOIN source, found "WHERE"; hint: a stream JOIN needs a condition with a time bound, as in ON a.id = b.id AND DATEDIFF(minute, a, b) BETWEEN 0 AND 15`},
	{"SELECT CASE WHEN a THEN b FROM t",
		`line 1:27: expected END to close the CASE, found "FROM"; hint: the CASE at line 1:8 needs END after its last WHEN or ELSE`},
	{"SELECT a FROM t GROUP TumblingWindow(second, 1)",
		`line 1:23: expected BY after GROUP, found "TumblingWindow"; hint: insert BY`},
	{"SELECT a FROM t RIGHT JOIN u ON a = b",
		`line 1:17: expected JOIN, LEFT JOIN, CROSS APPLY or OUTER APPLY, found "RIGHT"; hint: RIGHT JOIN is not supported; swap the sources and use LEFT OUTER JOIN`},
	{"SELECT a FROM t CROSS APPLY GetArrayElements(t.x)",
		`line 1:50: expected AS alias after the APPLY function, found end of query; hint: name the elements: CROSS APPLY GetArrayElements(e.arrayField) AS item`},
	{"SELECT a AS from FROM t",
		`line 1:13: expected an alias after AS, found "from"; hint: FROM is a reserved word; write [from] to use it as a name`},
	{"SELECT a FROM (SELECT b FROM t)",
		`line 1:15: expected an input or step name, found "("; hint: subqueries are not supported; name the inner query with WITH step AS (…) and read FROM step`},
	{"SELECT a FROM t INTO o",
		`line 1:17: expected WHERE, GROUP BY, HAVING, UNION or the end of the statement, found "INTO"; hint: INTO goes between the SELECT list and FROM`},
	{"",
		`line 1:1: expected SELECT or WITH, found end of query; hint: a query starts with SELECT … FROM input, or WITH step AS (…)`},
	{"WITH s AS (SELECT a FROM t)",
		`line 1:28: expected a SELECT statement after the WITH steps, found end of query; hint: steps only name intermediate results; add SELECT … INTO output FROM step`},
	{"SELECT a FROM t WHERE x = @p",
		`line 1:27: unexpected character '@'; hint: remove it, or put it inside a 'string' or a [bracketed name]`},
	{"SELECT a FROM t\nUNION\nSELECT b INTO o FROM u",
		`line 3:15: unexpected INTO in SELECT 2 of a UNION; hint: write INTO once, in the first SELECT of the UNION`},
	{"SELECT a b c FROM t",
		`line 1:10: expected FROM after the SELECT list, found "b"; hint: separate select items with commas, and name them with AS`},
	{"SELECT a FROM t; WITH s AS (SELECT 1 FROM t) SELECT * FROM s",
		`line 1:18: expected SELECT or the end of the query, found "WITH"; hint: WITH steps come first; put all of them in one WITH at the start, separated by commas`},
	{"SELECT a FROM t ORDER BY a",
		`line 1:17: expected WHERE, GROUP BY, HAVING, UNION or the end of the statement, found "ORDER"; hint: a stream has no ORDER BY; use TopOne() OVER (ORDER BY …) or Collect over a window`},
	{"SELECT LAG(a) OVER (LIMIT DURATION(hour 1)) FROM t",
		`line 1:41: expected "," after the date part, found "1"; hint: write LIMIT DURATION(minute, 5)`},
	{"SELECT 12abc FROM t",
		`line 1:8: malformed number "12abc"; hint: a name cannot start with a digit; write it in brackets, as in [1st]`},
	{"SELECT a FROM t, u",
		`line 1:16: expected JOIN, WHERE, GROUP BY or the end of the statement, found ","; hint: a comma join is not supported; write JOIN other ON DATEDIFF(…) BETWEEN … AND …`},
	{"SELECT \"\" FROM t",
		`line 1:8: empty quoted identifier; hint: write a name between the quotes`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorTests {
		q, err := Parse(tt.src)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want error", tt.src, q)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got  %s\n want %s", tt.src, err, tt.want)
		}
		var se *Error
		if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 || se.Hint == "" {
			t.Errorf("Parse(%q): %#v lacks a position or a hint", tt.src, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ word, want string }{
		{"FORM", "did you mean FROM?"},
		{"selct", "did you mean SELECT?"},
		{"GRUOP", "did you mean GROUP?"},
		{"TIMESTMAP", "did you mean TIMESTAMP?"},
		{"FROM", ""}, // exact words are not misspellings
		{"Make", ""}, // too far from every keyword
		{"x", ""},    // too short to guess
		{"ab", ""},   // no two-letter keyword one edit away
		{"ORR", "did you mean OR?"},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, hintWords); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
