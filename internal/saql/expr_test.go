package saql

import "testing"

func TestParseExpr(t *testing.T) {
	tests := []struct{ src, want string }{
		// literals and names
		{"42", "42"},
		{"1.5", "1.5"},
		{"1e3", "1e3"},
		{"2.5E-4", "2.5E-4"},
		{"'it''s'", "'it''s'"},
		{"N'héllo'", "N'héllo'"},
		{"NULL", "NULL"},
		{"true", "TRUE"},
		{"False", "FALSE"},
		{"a", "a"},
		{"e.a", "e.a"},
		{"e.a.b.c", "e.a.b.c"},
		{"[weird name]", "[weird name]"},
		{"[a]]b]", "[a]]b]"},
		{`"dq name"`, "[dq name]"},
		{"e.[from]", "e.[from]"},
		{"e.from", "e.from"},
		// precedence
		{"a OR b AND c", "(OR a (AND b c))"},
		{"a AND b OR c AND d", "(OR (AND a b) (AND c d))"},
		{"NOT a = 1 AND b", "(AND (NOT (= a 1)) b)"},
		{"NOT NOT a", "(NOT (NOT a))"},
		{"a + b * c", "(+ a (* b c))"},
		{"a * b + c", "(+ (* a b) c)"},
		{"a - b - c", "(- (- a b) c)"},
		{"a / b % c", "(% (/ a b) c)"},
		{"(a + b) * c", "(* (+ a b) c)"},
		{"-a * b", "(* (- a) b)"},
		{"- -1", "(- (- 1))"},
		{"+a", "(+ a)"},
		{"a || b + c", "(+ (|| a b) c)"},
		{"a + 1 > b * 2", "(> (+ a 1) (* b 2))"},
		{"a <> b", "(<> a b)"},
		{"a != b", "(!= a b)"},
		{"a <= b OR a >= c", "(OR (<= a b) (>= a c))"},
		// predicates
		{"a IS NULL", "(is-null a)"},
		{"a IS NOT NULL AND b is null", "(AND (is-not-null a) (is-null b))"},
		{"plate LIKE 'A%'", "(like plate 'A%')"},
		{"plate NOT LIKE '%Z'", "(not-like plate '%Z')"},
		{"make IN ('Honda', 'Toyota')", "(in make 'Honda' 'Toyota')"},
		{"make NOT IN (1)", "(not-in make 1)"},
		{"x BETWEEN 1 AND 10 AND y", "(AND (between x 1 10) y)"},
		{"x NOT BETWEEN a + 1 AND b", "(not-between x (+ a 1) b)"},
		{"NOT x LIKE 'a'", "(NOT (like x 'a'))"},
		// functions
		{"System.Timestamp()", "(SYSTEM.TIMESTAMP)"},
		{"System.Timestamp", "System.Timestamp"}, // older ASA queries omit the parentheses
		{"system.timestamp ( )", "(SYSTEM.TIMESTAMP)"},
		{"COUNT(*)", "(COUNT *)"},
		{"count(DISTINCT Make)", "(COUNT distinct Make)"},
		{"udf.toUpper(name)", "(UDF.TOUPPER name)"},
		{"DATEDIFF(minute, e.EntryTime, t.ExitTime)", "(DATEDIFF #minute e.EntryTime t.ExitTime)"},
		{"DATEADD(day, -1, t)", "(DATEADD #day (- 1) t)"},
		{"DATEPART(hh, t)", "(DATEPART #hh t)"},
		{"DATENAME(month, t)", "(DATENAME #month t)"},
		{"TumblingWindow(second, 10)", "(TUMBLINGWINDOW #second 10)"},
		{"HoppingWindow(minute, 10, 5)", "(HOPPINGWINDOW #minute 10 5)"},
		{"SlidingWindow(second, 10)", "(SLIDINGWINDOW #second 10)"},
		{"SessionWindow(minute, 5, 10) OVER (PARTITION BY DeviceId)", "(SESSIONWINDOW #minute 5 10 (over (partition DeviceId)))"},
		{"TumblingWindow(Duration(hour, 1), Offset(millisecond, -1))", "(TUMBLINGWINDOW (DURATION #hour 1) (OFFSET #millisecond (- 1)))"},
		{"HoppingWindow(Duration(hour, 1), Hop(minute, 5))", "(HOPPINGWINDOW (DURATION #hour 1) (HOP #minute 5))"},
		{"Windows(Window('10 min', TumblingWindow(minute, 10)), Window('1 h', HoppingWindow(minute, 60, 10)))",
			"(WINDOWS (WINDOW '10 min' (TUMBLINGWINDOW #minute 10)) (WINDOW '1 h' (HOPPINGWINDOW #minute 60 10)))"},
		{"TopOne() OVER (ORDER BY Count DESC)", "(TOPONE (over (order Count desc)))"},
		{"TopOne() OVER (ORDER BY a ASC, b DESC)", "(TOPONE (over (order a) (order b desc)))"},
		{"Collect()", "(COLLECT)"},
		{"LAG(reading) OVER (LIMIT DURATION(hour, 1))", "(LAG reading (over (limit #hour 1)))"},
		{"LAG(x, 1, 0) OVER (PARTITION BY k LIMIT DURATION(minute, 5) WHEN x IS NOT NULL)",
			"(LAG x 1 0 (over (partition k) (limit #minute 5) (when (is-not-null x))))"},
		{"ISFIRST(mi, 10) OVER (PARTITION BY Make) = 1", "(= (ISFIRST #mi 10 (over (partition Make))) 1)"},
		{"LAST(err.time) OVER (PARTITION BY err.deviceId LIMIT DURATION(hour, 1) WHEN err.value = 1)",
			"(LAST err.time (over (partition err.deviceId) (limit #hour 1) (when (= err.value 1))))"},
		{"GetRecordPropertyValue(e.props, 'key')", "(GETRECORDPROPERTYVALUE e.props 'key')"},
		{"GetArrayElement(e.arr, 0)", "(GETARRAYELEMENT e.arr 0)"},
		{"[my udf](x)", "(MY UDF x)"},
		// CASE and CAST
		{"CASE WHEN a = 1 THEN 'one' WHEN a = 2 THEN 'two' ELSE 'many' END", "(case (when (= a 1) 'one') (when (= a 2) 'two') (else 'many'))"},
		{"CASE Make WHEN 'Honda' THEN 1 END", "(case Make (when 'Honda' 1))"},
		{"CAST(x AS bigint)", "(cast x bigint)"},
		{"TRY_CAST(x AS FLOAT)", "(try_cast x float)"},
		{"CAST(x AS nvarchar(MAX))", "(cast x nvarchar(max))"},
		{"CAST(t AS datetime)", "(cast t datetime)"},
		{"TRY_CAST(b AS bit)", "(try_cast b bit)"},
		{"CAST(r AS record)", "(cast r record)"},
		{"CAST(a AS array)", "(cast a array)"},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		if got := sexpr(e); got != tt.want {
			t.Errorf("ParseExpr(%q) = %s, want %s", tt.src, got, tt.want)
		}
		// The printed expression parses to the same shape.
		again, err := ParseExpr(e.String())
		if err != nil || sexpr(again) != tt.want {
			t.Errorf("ParseExpr(%q).String() = %q reparses to %v, %v", tt.src, e.String(), again, err)
		}
	}
}

func TestParseExprPositions(t *testing.T) {
	e, err := ParseExpr("a +\n  DATEDIFF(minute, x, y)")
	if err != nil {
		t.Fatal(err)
	}
	b := e.(*BinaryExpr)
	if b.Pos() != (Pos{1, 1}) || b.OpAt != (Pos{1, 3}) {
		t.Errorf("binary at %v op at %v", b.Pos(), b.OpAt)
	}
	call := b.R.(*FuncCall)
	if call.At != (Pos{2, 3}) || call.Args[0].Pos() != (Pos{2, 12}) || call.Args[2].Pos() != (Pos{2, 23}) {
		t.Errorf("call at %v, args at %v %v", call.At, call.Args[0].Pos(), call.Args[2].Pos())
	}
}
