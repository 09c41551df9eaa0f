package saql

import (
	"fmt"
	"strings"
)

// Expressions, lowest precedence first:
//
//	OR
//	AND
//	NOT
//	= <> != < <= > >=, IS [NOT] NULL, [NOT] LIKE, [NOT] IN, [NOT] BETWEEN (not chained)
//	+ - ||
//	* / %
//	unary - +
//	primary

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	l := p.andExpr()
	for p.tok().is("OR") {
		at := p.next().At
		l = &BinaryExpr{OpAt: at, Op: "OR", L: l, R: p.andExpr()}
	}
	return l
}

func (p *parser) exprList() []Expr {
	list := []Expr{p.expr()}
	for p.acceptOp(",") {
		list = append(list, p.expr())
	}
	return list
}

func (p *parser) andExpr() Expr {
	l := p.notExpr()
	for p.tok().is("AND") {
		at := p.next().At
		l = &BinaryExpr{OpAt: at, Op: "AND", L: l, R: p.notExpr()}
	}
	return l
}

func (p *parser) notExpr() Expr {
	if t := p.tok(); t.is("NOT") {
		p.next()
		p.enter()
		defer p.leave()
		return &UnaryExpr{At: t.At, Op: "NOT", X: p.notExpr()}
	}
	return p.comparison()
}

var comparisonOps = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) comparison() Expr {
	l := p.additive()
	t := p.tok()
	switch {
	case t.Kind == TokOp && comparisonOps[t.Text]:
		p.next()
		if t.Text == "=" && p.tok().isOp("=") {
			p.fail("expected an expression after =", "SAQL compares with a single =")
		}
		return &BinaryExpr{OpAt: t.At, Op: t.Text, L: l, R: p.additive()}
	case t.is("IS"):
		p.next()
		not := p.accept("NOT")
		if !p.accept("NULL") {
			p.fail("expected NULL after IS", "IS only tests for NULL: x IS NULL, x IS NOT NULL; compare other values with =")
		}
		return &IsNullExpr{X: l, Not: not}
	case t.is("NOT") && (p.peek(1).is("LIKE") || p.peek(1).is("IN") || p.peek(1).is("BETWEEN")):
		p.next()
		return p.predicate(l, true)
	case t.is("LIKE") || t.is("IN") || t.is("BETWEEN"):
		return p.predicate(l, false)
	}
	return l
}

// predicate parses LIKE, IN or BETWEEN after x [NOT].
func (p *parser) predicate(x Expr, not bool) Expr {
	t := p.next()
	switch {
	case t.is("LIKE"):
		return &LikeExpr{X: x, Pattern: p.additive(), Not: not}
	case t.is("IN"):
		open := p.tok().At
		if !p.acceptOp("(") {
			p.fail("expected ( after IN", "write the values in parentheses: x IN ('a', 'b')")
		}
		if p.tok().is("SELECT") {
			p.fail("expected a list of values after IN (", "IN (SELECT …) is not supported; JOIN with the other input instead")
		}
		in := &InExpr{X: x, List: p.exprList(), Not: not}
		p.closeParen(open, "the IN list")
		return in
	}
	lo := p.additive()
	if !p.tok().is("AND") {
		p.fail("expected AND in BETWEEN", "write x BETWEEN low AND high")
	}
	p.next()
	return &BetweenExpr{X: x, Lo: lo, Hi: p.additive(), Not: not}
}

func (p *parser) additive() Expr {
	l := p.multiplicative()
	for t := p.tok(); t.isOp("+") || t.isOp("-") || t.isOp("||"); t = p.tok() {
		p.next()
		l = &BinaryExpr{OpAt: t.At, Op: t.Text, L: l, R: p.multiplicative()}
	}
	return l
}

func (p *parser) multiplicative() Expr {
	l := p.unary()
	for t := p.tok(); t.isOp("*") || t.isOp("/") || t.isOp("%"); t = p.tok() {
		p.next()
		l = &BinaryExpr{OpAt: t.At, Op: t.Text, L: l, R: p.unary()}
	}
	return l
}

func (p *parser) unary() Expr {
	if t := p.tok(); t.isOp("-") || t.isOp("+") {
		p.next()
		p.enter()
		defer p.leave()
		return &UnaryExpr{At: t.At, Op: t.Text, X: p.unary()}
	}
	return p.primary()
}

// primary := literal | name{.name} | call | CASE … | CAST(…) | TRY_CAST(…) | ( expr )
func (p *parser) primary() Expr {
	t := p.tok()
	switch t.Kind {
	case TokInt, TokFloat:
		p.next()
		return &NumberLit{At: t.At, Raw: t.Text, Float: t.Kind == TokFloat}
	case TokString, TokNString:
		p.next()
		return &StringLit{At: t.At, Value: t.Text, National: t.Kind == TokNString}
	case TokQuotedIdent:
		return p.nameOrCall()
	case TokOp:
		if t.isOp("(") {
			return p.paren()
		}
	case TokIdent:
		switch {
		case t.is("NULL"):
			p.next()
			return &NullLit{At: t.At}
		case t.is("TRUE") || t.is("FALSE"):
			p.next()
			return &BoolLit{At: t.At, Value: t.is("TRUE")}
		case t.is("CASE"):
			return p.caseExpr()
		case t.is("CAST") || t.is("TRY_CAST"):
			return p.cast()
		case !IsReserved(t.Text):
			return p.nameOrCall()
		}
		p.fail("expected an expression", p.keywordHint(t))
	case TokEOF:
		p.fail("expected an expression", "the query ends too early")
	}
	p.fail("expected an expression", "")
	panic("unreachable")
}

// keywordHint explains a reserved word found where an expression should be.
func (p *parser) keywordHint(t Token) string {
	kw := strings.ToUpper(t.Text)
	switch kw {
	case "FROM", "INTO", "WHERE", "GROUP", "HAVING", "UNION", "ON", "THEN", "ELSE", "END", "WHEN", "AND", "OR":
		if p.i > 0 && p.toks[p.i-1].isOp(",") {
			return "remove the comma before " + kw
		}
		return "an expression is missing before " + kw
	}
	return fmt.Sprintf("%s is a reserved word; write [%s] to use it as a name", kw, t.Text)
}

func (p *parser) paren() Expr {
	open := p.next().At
	if p.tok().is("SELECT") {
		p.fail("expected an expression after (", "subqueries are not supported; name the inner query with WITH step AS (…) and JOIN it")
	}
	x := p.expr()
	p.closeParen(open, "the parenthesis")
	return &ParenExpr{At: open, X: x}
}

// nameOrCall parses a column reference a.b.c or a call f(…), System.Timestamp(…).
func (p *parser) nameOrCall() Expr {
	parts := []Ident{p.name("a name")}
	for p.tok().isOp(".") {
		p.next()
		t := p.tok()
		switch t.Kind {
		case TokIdent:
			parts = append(parts, Ident{At: t.At, Name: t.Text}) // any word after a dot: System.Timestamp
		case TokQuotedIdent:
			parts = append(parts, Ident{At: t.At, Name: t.Text, Quoted: true})
		default:
			hint := "write a field name after the dot, as in e.field"
			if t.isOp("*") {
				hint = "alias.* is only allowed as a SELECT item"
			}
			p.fail("expected a name after \".\"", hint)
		}
		p.next()
	}
	if !p.tok().isOp("(") {
		return &ColumnRef{Parts: parts}
	}
	fc := p.call(parts)
	for fc.Over == nil && p.tok().isOp(".") {
		p.next()
		t := p.tok()
		if t.Kind != TokIdent && t.Kind != TokQuotedIdent {
			p.fail("expected a field name after \".\"", "write the field of the call's record, as in System.Window().Id")
		}
		fc.Path = append(fc.Path, Ident{At: t.At, Name: t.Text, Quoted: t.Kind == TokQuotedIdent})
		p.next()
	}
	return fc
}

// call := name ( [* | [DISTINCT] args] ) [OVER ( … )]
func (p *parser) call(name []Ident) *FuncCall {
	fc := &FuncCall{At: name[0].At, Name: name}
	open := p.next().At
	what := "the arguments of " + fc.FuncName()
	switch {
	case p.acceptOp(")"):
	case p.tok().isOp("*"):
		p.next()
		fc.Star = true
		p.closeParen(open, what)
	default:
		fc.Distinct = p.accept("DISTINCT")
		if unitFuncs[fc.FuncName()] {
			fc.Args = append(fc.Args, p.unitOrExpr())
		} else {
			fc.Args = append(fc.Args, p.expr())
		}
		for p.acceptOp(",") {
			fc.Args = append(fc.Args, p.expr())
		}
		p.closeParen(open, what)
	}
	if p.tok().is("OVER") && p.peek(1).isOp("(") {
		fc.Over = p.over()
	}
	return fc
}

// unitOrExpr parses the first argument of a date function or window: a bare date part
// (minute, mi, n, …) when it is a lone word, otherwise an expression (Duration(hour, 1)).
func (p *parser) unitOrExpr() Expr {
	t := p.tok()
	if t.Kind == TokIdent && (p.peek(1).isOp(",") || p.peek(1).isOp(")")) {
		return p.datePart()
	}
	return p.expr()
}

var datePartNames = []string{"year", "quarter", "month", "dayofyear", "day", "week", "weekday",
	"hour", "minute", "second", "millisecond", "microsecond", "nanosecond"}

func (p *parser) datePart() *DatePart {
	t := p.tok()
	if t.Kind != TokIdent || !dateParts[strings.ToUpper(t.Text)] {
		hint := suggest(t.Text, datePartNames)
		if hint == "" {
			hint = "date parts are " + strings.Join(datePartNames, ", ") + " (and their abbreviations)"
		}
		p.fail("expected a date part", hint)
	}
	p.next()
	return &DatePart{At: t.At, Unit: t.Text}
}

// over := OVER ( [PARTITION BY e {, e}] [ORDER BY e [ASC|DESC] {, …}]
//
//	[LIMIT DURATION(unit, n)] [WHEN e] )
func (p *parser) over() *Over {
	o := &Over{At: p.next().At}
	open := p.next().At
	if p.accept("PARTITION") {
		p.expect("BY", "after PARTITION")
		o.PartitionBy = p.exprList()
	}
	if p.accept("ORDER") {
		p.expect("BY", "after ORDER")
		for {
			it := &OrderItem{Expr: p.expr()}
			if !p.accept("ASC") {
				it.Desc = p.accept("DESC")
			}
			o.OrderBy = append(o.OrderBy, it)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.accept("LIMIT") {
		t := p.tok()
		if !t.is("DURATION") {
			p.fail("expected DURATION after LIMIT", "write LIMIT DURATION(minute, 5)")
		}
		p.next()
		dopen := p.tok().At
		if !p.acceptOp("(") {
			p.fail("expected ( after DURATION", "write LIMIT DURATION(minute, 5)")
		}
		unit := p.datePart()
		if !p.acceptOp(",") {
			p.fail("expected \",\" after the date part", "write LIMIT DURATION(minute, 5)")
		}
		o.Limit = &Duration{At: t.At, Unit: *unit, Size: p.expr()}
		p.closeParen(dopen, "DURATION")
	}
	if p.accept("WHEN") {
		o.When = p.expr()
	}
	if !p.tok().isOp(")") {
		hint := "the clauses of OVER go in the order PARTITION BY, ORDER BY, LIMIT DURATION, WHEN"
		if p.tok().Kind == TokEOF {
			hint = fmt.Sprintf("the ( at line %s is not closed", open)
		}
		p.fail("expected ) to close OVER", hint)
	}
	p.next()
	return o
}

// caseExpr := CASE [operand] WHEN e THEN e {WHEN e THEN e} [ELSE e] END
func (p *parser) caseExpr() Expr {
	c := &CaseExpr{At: p.next().At}
	if !p.tok().is("WHEN") {
		c.Operand = p.expr()
	}
	for p.accept("WHEN") {
		w := &When{Cond: p.expr()}
		p.expect("THEN", "after the WHEN condition")
		w.Result = p.expr()
		c.Whens = append(c.Whens, w)
	}
	if len(c.Whens) == 0 {
		p.fail("expected WHEN in CASE", "write CASE WHEN condition THEN value … END")
	}
	if p.accept("ELSE") {
		c.Else = p.expr()
	}
	if !p.accept("END") {
		p.fail("expected END to close the CASE", fmt.Sprintf("the CASE at line %s needs END after its last WHEN or ELSE", c.At))
	}
	return c
}

// cast := (CAST | TRY_CAST) ( expr AS type )
func (p *parser) cast() Expr {
	kw := p.next()
	c := &CastExpr{At: kw.At, Try: kw.is("TRY_CAST")}
	name := strings.ToUpper(kw.Text)
	open := p.tok().At
	if !p.acceptOp("(") {
		p.fail("expected ( after "+name, "write "+name+"(x AS bigint)")
	}
	c.X = p.expr()
	p.expect("AS", "and a type in "+name)
	c.Type = p.typeName()
	p.closeParen(open, name)
	return c
}

// typeName := bigint | float | nvarchar(max) | datetime | bit | record | array
func (p *parser) typeName() string {
	t := p.tok()
	typ := strings.ToLower(t.Text)
	if t.Kind == TokIdent && typ == "nvarchar" {
		p.next()
		if !p.acceptOp("(") || !p.accept("MAX") || !p.acceptOp(")") {
			p.fail("expected (max) after nvarchar", "the only string type is nvarchar(max)")
		}
		return "nvarchar(max)"
	}
	for _, ct := range castTypes {
		if t.Kind == TokIdent && typ == ct && ct != "nvarchar(max)" {
			p.next()
			return ct
		}
	}
	hint := ""
	if t.Kind == TokIdent {
		hint = suggest(t.Text, castTypes)
		switch typ {
		case "int", "integer", "smallint", "tinyint":
			hint = "whole numbers are bigint"
		case "varchar", "nchar", "char", "string", "text":
			hint = "strings are nvarchar(max)"
		case "double", "real", "decimal", "numeric":
			hint = "fractional numbers are float"
		case "datetime2", "date", "time", "datetimeoffset":
			hint = "dates and times are datetime"
		case "boolean", "bool":
			hint = "booleans are bit"
		}
	}
	if hint == "" {
		hint = "the types are " + strings.Join(castTypes, ", ")
	}
	p.fail("expected a type", hint)
	panic("unreachable")
}
