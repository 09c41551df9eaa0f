package saql

import (
	"fmt"
	"strings"
)

// maxDepth bounds the nesting of expressions and steps, so hostile input cannot exhaust the stack.
const maxDepth = 200

// Parse parses a whole query. The error, if any, is an *Error with a line:column and a hint.
func Parse(src string) (q *Query, err error) {
	toks, err := Lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			q, err = nil, e
		}
	}()
	return p.query(), nil
}

// ParseExpr parses a single expression, for tests and tools.
func ParseExpr(src string) (x Expr, err error) {
	toks, err := Lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			x, err = nil, e
		}
	}()
	x = p.expr()
	if p.tok().Kind != TokEOF {
		p.fail("expected end of expression", "remove what follows the expression, or join it with an operator")
	}
	return x, nil
}

// parser is a recursive-descent parser over the token slice. Errors panic with *Error and are
// recovered in Parse: every rule would otherwise repeat the same error plumbing.
type parser struct {
	toks  []Token
	i     int
	depth int
}

func (p *parser) tok() Token { return p.toks[p.i] }

// peek returns the token n places after the current one (EOF past the end).
func (p *parser) peek(n int) Token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() Token {
	t := p.toks[p.i]
	if t.Kind != TokEOF {
		p.i++
	}
	return t
}

// accept consumes the keyword kw if it is next.
func (p *parser) accept(kw string) bool {
	if p.tok().is(kw) {
		p.i++
		return true
	}
	return false
}

// acceptOp consumes the operator op if it is next.
func (p *parser) acceptOp(op string) bool {
	if p.tok().isOp(op) {
		p.i++
		return true
	}
	return false
}

// fail stops parsing with "<expected>, found <token>" at the current token. An empty hint is
// replaced by a keyword-typo suggestion or a pointer to the grammar.
func (p *parser) fail(expected, hint string) {
	t := p.tok()
	if hint == "" && (t.Kind == TokIdent || t.Kind == TokQuotedIdent) {
		hint = suggest(t.Text, hintWords)
	}
	if hint == "" && t.Kind == TokIdent && IsReserved(t.Text) {
		hint = fmt.Sprintf("%s is a reserved word; write [%s] to use it as a name", strings.ToUpper(t.Text), t.Text)
	}
	if hint == "" {
		hint = "see docs/SAQL.md for the grammar"
	}
	panic(errAt(t.At, hint, "%s, found %s", expected, t.describe()))
}

// expect consumes the keyword kw or fails with "expected KW <context>".
func (p *parser) expect(kw, context string) Token {
	if !p.tok().is(kw) {
		hint := "insert " + kw
		if t := p.tok(); t.Kind == TokIdent && suggest(t.Text, []string{kw}) != "" {
			hint = suggest(t.Text, []string{kw})
		}
		p.fail("expected "+kw+" "+context, hint)
	}
	return p.next()
}

// closeParen consumes the ")" matching the "(" at open.
func (p *parser) closeParen(open Pos, what string) {
	if p.acceptOp(")") {
		return
	}
	hint := fmt.Sprintf("the ( at line %s is not closed", open)
	if t := p.tok(); t.Kind != TokEOF && !t.isOp(")") {
		hint = fmt.Sprintf("close the ( opened at line %s, or separate items with commas", open)
	}
	p.fail("expected ) to close "+what, hint)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		panic(errAt(p.tok().At, "split the expression into WITH steps", "query nested more than %d levels deep", maxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

// name parses a name that may not be a reserved word unless quoted.
func (p *parser) name(what string) Ident {
	t := p.tok()
	switch {
	case t.Kind == TokQuotedIdent:
		p.next()
		return Ident{At: t.At, Name: t.Text, Quoted: true}
	case t.Kind == TokIdent && !IsReserved(t.Text):
		p.next()
		return Ident{At: t.At, Name: t.Text}
	case t.Kind == TokIdent:
		p.fail("expected "+what, fmt.Sprintf("%s is a reserved word; write [%s] to use it as a name", strings.ToUpper(t.Text), t.Text))
	}
	p.fail("expected "+what, "")
	panic("unreachable")
}

// aliasName reads a SELECT item's alias after AS: a name, or a string literal as the Stream
// Analytics documentation writes some ("AS 'smVersion'"), which names the column the same way.
func (p *parser) aliasName() Ident {
	if t := p.tok(); t.Kind == TokString {
		p.next()
		return Ident{At: t.At, Name: t.Text, Quoted: true}
	}
	return p.name("an alias after AS")
}

// isName reports whether t can be a name without brackets or is a quoted name.
func isName(t Token) bool {
	return t.Kind == TokQuotedIdent || (t.Kind == TokIdent && !IsReserved(t.Text))
}

// query := [WITH step {, step}] statement {[;] statement}
func (p *parser) query() *Query {
	q := &Query{}
	if p.accept("WITH") {
		for {
			at := p.tok().At
			name := p.name("a step name after WITH")
			p.expect("AS", "after the step name "+name.String())
			open := p.tok().At
			if !p.acceptOp("(") {
				p.fail("expected ( after "+name.String()+" AS", "a step is written name AS (SELECT …)")
			}
			body := p.statement(true)
			p.closeParen(open, "the step "+name.String())
			q.With = append(q.With, &WithStep{At: at, Name: name, Body: body})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	for {
		for p.acceptOp(";") {
		}
		t := p.tok()
		if t.Kind == TokEOF {
			break
		}
		if !t.is("SELECT") {
			p.statementStartError(len(q.Statements) > 0 || len(q.With) > 0)
		}
		q.Statements = append(q.Statements, p.statement(false))
	}
	if len(q.Statements) == 0 {
		if len(q.With) > 0 {
			p.fail("expected a SELECT statement after the WITH steps", "steps only name intermediate results; add SELECT … INTO output FROM step")
		}
		p.fail("expected SELECT or WITH", "a query starts with SELECT … FROM input, or WITH step AS (…)")
	}
	p.checkInto(q)
	return q
}

// statementStartError explains a token where a statement should start.
func (p *parser) statementStartError(after bool) {
	t := p.tok()
	expected := "expected SELECT or WITH at the start of the query"
	if after {
		expected = "expected SELECT or the end of the query"
	}
	hint := ""
	switch {
	case t.is("WITH"):
		hint = "WITH steps come first; put all of them in one WITH at the start, separated by commas"
	case t.is("INTO"):
		hint = "INTO goes between the SELECT list and FROM"
	case t.is("WHERE") || t.is("GROUP") || t.is("HAVING"):
		hint = "clauses go in the order FROM, JOIN/APPLY, WHERE, GROUP BY, HAVING"
	case t.isOp(")"):
		hint = "this ) has no matching ("
	case t.Kind == TokIdent && suggest(t.Text, hintWords) == "":
		if after {
			hint = "a statement ends after its last clause; join expressions with an operator, or separate select items with commas"
		}
	}
	p.fail(expected, hint)
}

// checkInto enforces INTO rules: a query with several statements names each one's output.
func (p *parser) checkInto(q *Query) {
	for _, st := range q.Statements {
		for i, sel := range st.Selects {
			if i > 0 && sel.Into != nil {
				panic(errAt(sel.Into.At, "write INTO once, in the first SELECT of the UNION",
					"unexpected INTO in SELECT %d of a UNION", i+1))
			}
		}
		if len(q.Statements) > 1 && st.Into() == nil {
			sel := st.Selects[0]
			panic(errAt(sel.FromAt, "add INTO <output> after the SELECT list; only a query with a single statement may omit INTO",
				"expected INTO before FROM: this query has %d SELECT statements, so each must name its output", len(q.Statements)))
		}
	}
}

// statement := select {UNION [ALL] select}
func (p *parser) statement(inWith bool) *Statement {
	p.enter()
	defer p.leave()
	st := &Statement{Selects: []*Select{p.selectStmt(inWith)}}
	for p.accept("UNION") {
		st.UnionAll = append(st.UnionAll, p.accept("ALL"))
		if !p.tok().is("SELECT") {
			p.fail("expected SELECT after UNION", "")
		}
		st.Selects = append(st.Selects, p.selectStmt(inWith))
	}
	return st
}

// selectStmt := SELECT [DISTINCT] [TOP n] items [INTO name] FROM source {join} [WHERE e]
// [GROUP BY e {, e}] [HAVING e]
func (p *parser) selectStmt(inWith bool) *Select {
	s := &Select{At: p.expect("SELECT", "").At}
	s.Distinct = p.accept("DISTINCT")
	if p.accept("TOP") {
		t := p.tok()
		if t.Kind != TokInt {
			p.fail("expected a whole number after TOP", "write TOP 10")
		}
		p.next()
		s.Top = &NumberLit{At: t.At, Raw: t.Text}
	}
	s.Items = p.selectItems()
	if t := p.tok(); t.is("INTO") {
		p.next()
		if inWith {
			panic(errAt(t.At, "a WITH step is read by later statements; write INTO in the statement that outputs it",
				"unexpected INTO inside a WITH step"))
		}
		into := p.name("an output name after INTO")
		s.Into = &into
	}
	if !p.tok().is("FROM") {
		p.fromError()
	}
	s.FromAt = p.next().At
	s.From = p.source(false)
	s.Joins = p.joins()
	if p.accept("WHERE") {
		s.Where = p.expr()
	}
	if t := p.tok(); t.is("GROUP") {
		p.next()
		p.expect("BY", "after GROUP")
		s.GroupBy = p.exprList()
	}
	if p.accept("HAVING") {
		s.Having = p.expr()
	}
	p.endOfSelect(inWith)
	return s
}

// selectItems := item {, item}
func (p *parser) selectItems() []*SelectItem {
	var items []*SelectItem
	for {
		t := p.tok()
		if t.is("FROM") || t.is("INTO") || t.Kind == TokEOF {
			if len(items) == 0 {
				p.fail("expected a column or expression after SELECT", "list what to select, or * for every column")
			}
			p.fail("expected an expression after \",\"", "remove the comma after the last select item")
		}
		items = append(items, p.selectItem())
		if !p.acceptOp(",") {
			return items
		}
	}
}

// starPath reports how many names precede ".*" when the next tokens are name(.name)*.*, or 0.
func (p *parser) starPath() int {
	for n := 0; ; n++ {
		if !isName(p.peek(2*n)) || !p.peek(2*n+1).isOp(".") {
			return 0
		}
		if p.peek(2*n + 2).isOp("*") {
			return n + 1
		}
	}
}

// selectItem := * | name{.name}.* | expr [[AS] alias]
func (p *parser) selectItem() *SelectItem {
	t := p.tok()
	if p.acceptOp("*") {
		return &SelectItem{At: t.At, Star: true}
	}
	if n := p.starPath(); n > 0 { // alias.* or a record path's fields: i.Location.*
		q := p.name("a name")
		it := &SelectItem{At: t.At, Star: true, Qualifier: &q}
		for range n - 1 {
			p.next() // .
			it.Path = append(it.Path, p.name("a name"))
		}
		p.next() // .
		p.next() // *
		return it
	}
	it := &SelectItem{At: t.At, Expr: p.expr()}
	if p.accept("AS") {
		a := p.aliasName()
		it.Alias = &a
	} else if isName(p.tok()) && endsItem(p.peek(1)) {
		a := p.name("an alias")
		it.Alias = &a
	}
	return it
}

// endsItem reports whether t can follow a select item: an implicit alias is only taken when it
// is followed by one of these, so "SELECT a FORM t" reports FORM rather than aliasing a.
func endsItem(t Token) bool {
	return t.isOp(",") || t.is("INTO") || t.is("FROM") || t.Kind == TokEOF
}

// fromError explains a missing FROM after the SELECT list.
func (p *parser) fromError() {
	t := p.tok()
	hint := ""
	switch {
	case t.Kind == TokEOF:
		hint = "add FROM <input>; every SELECT reads an input or a WITH step"
	case t.is("WHERE") || t.is("GROUP") || t.is("JOIN"):
		hint = "add FROM <input> before " + strings.ToUpper(t.Text)
	case t.Kind == TokIdent && suggest(t.Text, []string{"FROM", "INTO"}) != "":
		hint = suggest(t.Text, []string{"FROM", "INTO"})
	case isName(t) || t.Kind == TokString || t.Kind == TokInt || t.Kind == TokFloat:
		hint = "separate select items with commas, and name them with AS"
	}
	p.fail("expected FROM after the SELECT list", hint)
}

// endOfSelect checks that the SELECT ends where a statement may end.
func (p *parser) endOfSelect(inWith bool) {
	t := p.tok()
	if t.Kind == TokEOF || t.isOp(";") || t.is("SELECT") || t.is("UNION") || (inWith && t.isOp(")")) {
		return
	}
	hint := ""
	switch {
	case t.is("INTO"):
		hint = "INTO goes between the SELECT list and FROM"
	case t.is("WHERE") || t.is("GROUP") || t.is("HAVING") || t.is("JOIN") || t.is("CROSS"):
		hint = "clauses go in the order FROM, JOIN/APPLY, WHERE, GROUP BY, HAVING, each at most once"
	case t.is("ORDER"):
		hint = "a stream has no ORDER BY; use TopOne() OVER (ORDER BY …) or Collect over a window"
	case t.isOp(")") && !inWith:
		hint = "this ) has no matching ("
	case t.isOp(","):
		hint = "a comma here does not continue any list; remove it"
	case t.Kind == TokIdent && suggest(t.Text, hintWords) != "":
		hint = suggest(t.Text, hintWords)
	case isName(t):
		hint = "join expressions with an operator (AND, OR, =, +, …)"
	}
	expected := "expected WHERE, GROUP BY, HAVING, UNION or the end of the statement"
	if inWith {
		expected = "expected WHERE, GROUP BY, HAVING, UNION or ) closing the step"
	}
	p.fail(expected, hint)
}
