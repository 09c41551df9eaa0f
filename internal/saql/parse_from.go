package saql

import "strings"

// source := name [[AS] alias] [TIMESTAMP BY expr [OVER expr {, expr}]] [PARTITION BY expr]
// For an APPLY it is call [AS] alias: the alias is required, TIMESTAMP BY and PARTITION BY
// belong to the FROM source.
func (p *parser) source(apply bool) *Source {
	t := p.tok()
	src := &Source{At: t.At}
	switch {
	case apply:
		if !isName(t) || !p.isCallAhead() {
			p.fail("expected a function after APPLY", "write CROSS APPLY GetArrayElements(e.arrayField) AS item")
		}
		src.Func = p.primary().(*FuncCall)
	case t.isOp("("):
		p.fail("expected an input or step name", "subqueries are not supported; name the inner query with WITH step AS (…) and read FROM step")
	case isName(t) && p.peek(1).isOp("("):
		p.next()
		p.fail("expected an input or step name, not a function call", "functions such as GetArrayElements go in CROSS APPLY after the FROM source")
	default:
		n := p.name("an input or step name")
		src.Name = &n
		if p.tok().isOp(".") {
			p.fail("expected an input or step name without dots", "write [a.b] if the name itself has a dot")
		}
	}
	if p.accept("AS") {
		a := p.name("an alias after AS")
		src.Alias = &a
	} else if isName(p.tok()) && endsSource(p.peek(1)) {
		a := p.name("an alias")
		src.Alias = &a
	}
	if apply && src.Alias == nil {
		p.fail("expected AS alias after the APPLY function", "name the elements: CROSS APPLY GetArrayElements(e.arrayField) AS item")
	}
	if apply {
		return src
	}
	if t := p.tok(); t.is("TIMESTAMP") {
		p.next()
		p.expect("BY", "after TIMESTAMP")
		src.TimestampBy = p.expr()
		if p.accept("OVER") {
			src.TimestampOver = p.exprList()
		}
	}
	if t := p.tok(); t.is("PARTITION") {
		p.next()
		p.expect("BY", "after PARTITION")
		src.PartitionBy = p.expr()
	}
	return src
}

// isCallAhead reports whether a (dotted) name followed by "(" starts here.
func (p *parser) isCallAhead() bool {
	n := 0
	for {
		t := p.peek(n)
		if t.Kind != TokIdent && t.Kind != TokQuotedIdent {
			return false
		}
		if p.peek(n + 1).isOp("(") {
			return true
		}
		if !p.peek(n + 1).isOp(".") {
			return false
		}
		n += 2
	}
}

// endsSource reports whether t can follow a source, so that the word before it is an alias.
func endsSource(t Token) bool {
	if t.Kind == TokEOF || t.isOp(";") || t.isOp(")") || t.isOp(",") {
		return true
	}
	for _, kw := range []string{"SELECT", "WHERE", "GROUP", "HAVING", "JOIN", "INNER", "LEFT",
		"RIGHT", "FULL", "CROSS", "OUTER", "ON", "UNION", "TIMESTAMP", "PARTITION", "INTO"} {
		if t.is(kw) {
			return true
		}
	}
	return false
}

// joins := {[INNER] JOIN source ON expr | LEFT [OUTER] JOIN source ON expr
//
//	| CROSS APPLY source | OUTER APPLY source}
func (p *parser) joins() []*Join {
	var out []*Join
	for {
		t := p.tok()
		j := &Join{At: t.At}
		switch {
		case t.is("JOIN"):
			p.next()
		case t.is("INNER"):
			p.next()
			p.expect("JOIN", "after INNER")
		case t.is("LEFT"):
			p.next()
			p.accept("OUTER")
			p.expect("JOIN", "after LEFT [OUTER]")
			j.Kind = JoinLeft
		case t.is("CROSS"):
			p.next()
			if p.tok().is("JOIN") {
				p.fail("expected APPLY after CROSS", "CROSS JOIN is not supported; a stream JOIN needs ON with a DATEDIFF time bound")
			}
			p.expect("APPLY", "after CROSS")
			j.Kind = CrossApply
		case t.is("OUTER"):
			p.next()
			p.expect("APPLY", "after OUTER")
			j.Kind = OuterApply
		case t.is("RIGHT") || t.is("FULL"):
			p.fail("expected JOIN, LEFT JOIN, CROSS APPLY or OUTER APPLY",
				strings.ToUpper(t.Text)+" JOIN is not supported; swap the sources and use LEFT OUTER JOIN")
		case t.isOp(","):
			p.fail("expected JOIN, WHERE, GROUP BY or the end of the statement",
				"a comma join is not supported; write JOIN other ON DATEDIFF(…) BETWEEN … AND …")
		default:
			return out
		}
		j.Source = p.source(j.Kind == CrossApply || j.Kind == OuterApply)
		if j.Kind == JoinInner || j.Kind == JoinLeft {
			if !p.tok().is("ON") {
				p.fail("expected ON after the JOIN source",
					"a stream JOIN needs a condition with a time bound, as in ON a.id = b.id AND DATEDIFF(minute, a, b) BETWEEN 0 AND 15")
			}
			p.next()
			j.On = p.expr()
		}
		out = append(out, j)
	}
}
