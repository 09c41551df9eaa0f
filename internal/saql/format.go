package saql

import (
	"strings"
)

// The canonical printer. Keywords are upper case, names and numbers are printed as written,
// quoted names in [brackets], implicit aliases with AS, each clause on its own line. Printing
// keeps ParenExpr nodes and adds no parentheses of its own, so String() parses back to an equal
// tree (positions aside).

// String prints the query in canonical SAQL.
func (q *Query) String() string {
	var b strings.Builder
	if len(q.With) > 0 {
		b.WriteString("WITH ")
		for i, w := range q.With {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(w.Name.String())
			b.WriteString(" AS (\n")
			b.WriteString(indent(w.Body.String()))
			b.WriteString("\n)")
		}
		b.WriteString("\n")
	}
	for i, s := range q.Statements {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(s.String())
	}
	return b.String()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// String prints the statement, its SELECTs joined by UNION.
func (s *Statement) String() string {
	var b strings.Builder
	for i, sel := range s.Selects {
		if i > 0 {
			if s.UnionAll[i-1] {
				b.WriteString("\nUNION ALL\n")
			} else {
				b.WriteString("\nUNION\n")
			}
		}
		b.WriteString(sel.String())
	}
	return b.String()
}

// String prints one SELECT, one clause a line.
func (s *Select) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if s.Distinct {
		b.WriteString("DISTINCT ")
	}
	if s.Top != nil {
		b.WriteString("TOP " + s.Top.Raw + " ")
	}
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.String())
	}
	if s.Into != nil {
		b.WriteString("\nINTO " + s.Into.String())
	}
	b.WriteString("\nFROM " + s.From.String())
	for _, j := range s.Joins {
		b.WriteString("\n" + j.String())
	}
	if s.Where != nil {
		b.WriteString("\nWHERE " + s.Where.String())
	}
	if len(s.GroupBy) > 0 {
		b.WriteString("\nGROUP BY " + exprList(s.GroupBy))
	}
	if s.Having != nil {
		b.WriteString("\nHAVING " + s.Having.String())
	}
	return b.String()
}

// String prints *, alias.* or expr [AS alias].
func (it *SelectItem) String() string {
	switch {
	case it.Star && it.Qualifier != nil:
		out := it.Qualifier.String()
		for _, f := range it.Path {
			out += "." + f.String()
		}
		return out + ".*"
	case it.Star:
		return "*"
	case it.Alias != nil:
		return it.Expr.String() + " AS " + it.Alias.String()
	}
	return it.Expr.String()
}

// String prints the source with its alias and TIMESTAMP BY / PARTITION BY.
func (s *Source) String() string {
	var b strings.Builder
	if s.Func != nil {
		b.WriteString(s.Func.String())
	} else {
		b.WriteString(s.Name.String())
	}
	if s.Alias != nil {
		b.WriteString(" AS " + s.Alias.String())
	}
	if s.TimestampBy != nil {
		b.WriteString(" TIMESTAMP BY " + s.TimestampBy.String())
		if len(s.TimestampOver) > 0 {
			b.WriteString(" OVER " + exprList(s.TimestampOver))
		}
	}
	if s.PartitionBy != nil {
		b.WriteString(" PARTITION BY " + s.PartitionBy.String())
	}
	return b.String()
}

// String prints the JOIN or APPLY clause.
func (j *Join) String() string {
	switch j.Kind {
	case CrossApply:
		return "CROSS APPLY " + j.Source.String()
	case OuterApply:
		return "OUTER APPLY " + j.Source.String()
	case JoinLeft:
		return "LEFT OUTER JOIN " + j.Source.String() + "\n    ON " + j.On.String()
	}
	return "JOIN " + j.Source.String() + "\n    ON " + j.On.String()
}

// String prints the name, in brackets when it was quoted.
func (id Ident) String() string {
	if id.Quoted {
		return "[" + strings.ReplaceAll(id.Name, "]", "]]") + "]"
	}
	return id.Name
}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func quoteString(s string, national bool) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if national {
		return "N" + q
	}
	return q
}

func (e *ColumnRef) String() string {
	parts := make([]string, len(e.Parts))
	for i, p := range e.Parts {
		parts[i] = p.String()
	}
	return strings.Join(parts, ".")
}

func (e *NumberLit) String() string { return e.Raw }
func (e *StringLit) String() string { return quoteString(e.Value, e.National) }
func (e *NullLit) String() string   { return "NULL" }
func (e *DatePart) String() string  { return e.Unit }

func (e *BoolLit) String() string {
	if e.Value {
		return "TRUE"
	}
	return "FALSE"
}

func (e *FuncCall) String() string {
	var b strings.Builder
	for i, p := range e.Name {
		if i > 0 {
			b.WriteString(".")
		}
		b.WriteString(p.String())
	}
	b.WriteString("(")
	if e.Distinct {
		b.WriteString("DISTINCT ")
	}
	if e.Star {
		b.WriteString("*")
	}
	b.WriteString(exprList(e.Args))
	b.WriteString(")")
	if e.Over != nil {
		b.WriteString(" " + e.Over.String())
	}
	for _, p := range e.Path {
		b.WriteString("." + p.String())
	}
	return b.String()
}

// String prints OVER (PARTITION BY … ORDER BY … LIMIT DURATION(…) WHEN …).
func (o *Over) String() string {
	var parts []string
	if len(o.PartitionBy) > 0 {
		parts = append(parts, "PARTITION BY "+exprList(o.PartitionBy))
	}
	if len(o.OrderBy) > 0 {
		items := make([]string, len(o.OrderBy))
		for i, it := range o.OrderBy {
			items[i] = it.Expr.String()
			if it.Desc {
				items[i] += " DESC"
			}
		}
		parts = append(parts, "ORDER BY "+strings.Join(items, ", "))
	}
	if o.Limit != nil {
		parts = append(parts, "LIMIT DURATION("+o.Limit.Unit.Unit+", "+o.Limit.Size.String()+")")
	}
	if o.When != nil {
		parts = append(parts, "WHEN "+o.When.String())
	}
	return "OVER (" + strings.Join(parts, " ") + ")"
}

func (e *CaseExpr) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if e.Operand != nil {
		b.WriteString(" " + e.Operand.String())
	}
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Result.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *CastExpr) String() string {
	name := "CAST"
	if e.Try {
		name = "TRY_CAST"
	}
	return name + "(" + e.X.String() + " AS " + e.Type + ")"
}

func (e *UnaryExpr) String() string {
	x := e.X.String()
	if e.Op == "NOT" {
		return "NOT " + x
	}
	if strings.HasPrefix(x, "-") || strings.HasPrefix(x, "+") {
		return e.Op + " " + x // keep "- -1" from reading as a -- comment
	}
	return e.Op + x
}

func (e *BinaryExpr) String() string { return e.L.String() + " " + e.Op + " " + e.R.String() }

func (e *IsNullExpr) String() string {
	if e.Not {
		return e.X.String() + " IS NOT NULL"
	}
	return e.X.String() + " IS NULL"
}

func (e *LikeExpr) String() string { return e.X.String() + not(e.Not) + " LIKE " + e.Pattern.String() }

func (e *InExpr) String() string { return e.X.String() + not(e.Not) + " IN (" + exprList(e.List) + ")" }

func (e *BetweenExpr) String() string {
	return e.X.String() + not(e.Not) + " BETWEEN " + e.Lo.String() + " AND " + e.Hi.String()
}

func (e *ParenExpr) String() string { return "(" + e.X.String() + ")" }

func not(b bool) string {
	if b {
		return " NOT"
	}
	return ""
}
