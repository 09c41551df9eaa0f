package saql

import "strings"

// The syntax tree. Every node records where it starts (At, 1-based). The tree keeps what the
// text said — parentheses, the spelling of names and numbers — so that String() prints a query
// that parses back to an equal tree. Names are not resolved: whether a.b is alias a's column b
// or column a's field b is for the planner to decide.

// Query is a whole job query: optional WITH steps, then one or more statements, each of which
// writes to an output.
type Query struct {
	With       []*WithStep
	Statements []*Statement
}

// WithStep is one named step of WITH: name AS (statement). A step has no INTO.
type WithStep struct {
	At   Pos
	Name Ident
	Body *Statement
}

// Statement is one SELECT, or several combined with UNION. Its output is the INTO of the first
// SELECT (nil when the query has a single statement and names no output).
type Statement struct {
	Selects  []*Select
	UnionAll []bool // UnionAll[i] tells whether Selects[i+1] was joined with UNION ALL
}

// Into is the output the statement writes to, or nil.
func (s *Statement) Into() *Ident { return s.Selects[0].Into }

// Select is one SELECT … INTO … FROM … WHERE … GROUP BY … HAVING ….
type Select struct {
	At       Pos // the SELECT keyword
	Distinct bool
	Top      *NumberLit // TOP n, or nil
	Items    []*SelectItem
	Into     *Ident
	FromAt   Pos // the FROM keyword
	From     *Source
	Joins    []*Join // JOIN and APPLY clauses in order
	Where    Expr
	GroupBy  []Expr // windows are FuncCalls: TumblingWindow(second, 10)
	Having   Expr
}

// SelectItem is *, alias.*, or expr [AS alias].
type SelectItem struct {
	At        Pos
	Star      bool    // * or Qualifier.*
	Qualifier *Ident  // alias of alias.*, or nil
	Path      []Ident // record fields after the qualifier: i.Location.* has Path [Location]
	Expr      Expr
	Alias     *Ident
}

// Source is an input or step in FROM or JOIN, or the function of a CROSS/OUTER APPLY.
type Source struct {
	At            Pos
	Name          *Ident    // input or WITH step; nil for APPLY
	Func          *FuncCall // GetArrayElements(…) of an APPLY; nil otherwise
	Alias         *Ident
	TimestampBy   Expr   // TIMESTAMP BY expr, or nil
	TimestampOver []Expr // TIMESTAMP BY expr OVER col, …
	PartitionBy   Expr   // PARTITION BY PartitionId, or nil
}

// JoinKind is the kind of a JOIN or APPLY clause.
type JoinKind int

// The join kinds.
const (
	JoinInner  JoinKind = iota // JOIN, INNER JOIN
	JoinLeft                   // LEFT [OUTER] JOIN
	CrossApply                 // CROSS APPLY
	OuterApply                 // OUTER APPLY
)

// Join is a JOIN … ON … or an APPLY.
type Join struct {
	At     Pos // the first keyword
	Kind   JoinKind
	Source *Source
	On     Expr // nil for APPLY
}

// Ident is a name: a column, alias, input, output, step or part of a function name.
type Ident struct {
	At     Pos
	Name   string // as written, without brackets or quotes
	Quoted bool   // written [like this] or "like this"
}

// Expr is an expression node.
type Expr interface {
	Pos() Pos
	String() string
	exprNode()
}

// ColumnRef is a, alias.a or a record path a.b.c.
type ColumnRef struct {
	Parts []Ident
}

// NumberLit is an integer or float literal, kept as written.
type NumberLit struct {
	At    Pos
	Raw   string // "10", "1.5", "1e3"
	Float bool
}

// StringLit is 'text' or N'text'.
type StringLit struct {
	At       Pos
	Value    string
	National bool // N'…'
}

// NullLit is NULL.
type NullLit struct{ At Pos }

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	At    Pos
	Value bool
}

// DatePart is the bare unit a date function or window takes first: DATEDIFF(minute, a, b).
type DatePart struct {
	At   Pos
	Unit string // as written: minute, mi, n, …
}

// FuncCall is name(args) [OVER (…)], including aggregates, windows and dotted names such as
// System.Timestamp().
type FuncCall struct {
	At       Pos
	Name     []Ident // System.Timestamp is two parts
	Distinct bool    // COUNT(DISTINCT x)
	Star     bool    // COUNT(*)
	Args     []Expr
	Over     *Over
	Path     []Ident // fields read from the result: System.Window().Id has Path [Id]
}

// Over is the OVER clause of an analytic function or TopOne.
type Over struct {
	At          Pos
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Limit       *Duration // LIMIT DURATION(unit, n), or nil
	When        Expr
}

// OrderItem is expr [ASC|DESC].
type OrderItem struct {
	Expr Expr
	Desc bool
}

// Duration is DURATION(unit, size) after LIMIT.
type Duration struct {
	At   Pos
	Unit DatePart
	Size Expr
}

// CaseExpr is CASE [operand] WHEN … THEN … [ELSE …] END.
type CaseExpr struct {
	At      Pos
	Operand Expr // nil for a searched CASE
	Whens   []*When
	Else    Expr
}

// When is one WHEN cond THEN result of a CASE.
type When struct {
	Cond, Result Expr
}

// CastExpr is CAST(x AS type) or TRY_CAST(x AS type).
type CastExpr struct {
	At   Pos
	Try  bool
	X    Expr
	Type string // canonical lower case: bigint, float, nvarchar(max), datetime, bit, record, array
}

// UnaryExpr is -x, +x or NOT x.
type UnaryExpr struct {
	At Pos
	Op string // "-", "+", "NOT"
	X  Expr
}

// BinaryExpr is l op r; Op is upper case: OR AND = <> != < <= > >= + - || * / %.
type BinaryExpr struct {
	OpAt Pos
	Op   string
	L, R Expr
}

// IsNullExpr is x IS [NOT] NULL.
type IsNullExpr struct {
	X   Expr
	Not bool
}

// LikeExpr is x [NOT] LIKE pattern.
type LikeExpr struct {
	X, Pattern Expr
	Not        bool
}

// InExpr is x [NOT] IN (list).
type InExpr struct {
	X    Expr
	List []Expr
	Not  bool
}

// BetweenExpr is x [NOT] BETWEEN lo AND hi.
type BetweenExpr struct {
	X, Lo, Hi Expr
	Not       bool
}

// ParenExpr is (x), kept so the tree prints as written.
type ParenExpr struct {
	At Pos
	X  Expr
}

func (e *ColumnRef) Pos() Pos   { return e.Parts[0].At }
func (e *NumberLit) Pos() Pos   { return e.At }
func (e *StringLit) Pos() Pos   { return e.At }
func (e *NullLit) Pos() Pos     { return e.At }
func (e *BoolLit) Pos() Pos     { return e.At }
func (e *DatePart) Pos() Pos    { return e.At }
func (e *FuncCall) Pos() Pos    { return e.At }
func (e *CaseExpr) Pos() Pos    { return e.At }
func (e *CastExpr) Pos() Pos    { return e.At }
func (e *UnaryExpr) Pos() Pos   { return e.At }
func (e *BinaryExpr) Pos() Pos  { return e.L.Pos() }
func (e *IsNullExpr) Pos() Pos  { return e.X.Pos() }
func (e *LikeExpr) Pos() Pos    { return e.X.Pos() }
func (e *InExpr) Pos() Pos      { return e.X.Pos() }
func (e *BetweenExpr) Pos() Pos { return e.X.Pos() }
func (e *ParenExpr) Pos() Pos   { return e.At }

func (*ColumnRef) exprNode()   {}
func (*NumberLit) exprNode()   {}
func (*StringLit) exprNode()   {}
func (*NullLit) exprNode()     {}
func (*BoolLit) exprNode()     {}
func (*DatePart) exprNode()    {}
func (*FuncCall) exprNode()    {}
func (*CaseExpr) exprNode()    {}
func (*CastExpr) exprNode()    {}
func (*UnaryExpr) exprNode()   {}
func (*BinaryExpr) exprNode()  {}
func (*IsNullExpr) exprNode()  {}
func (*LikeExpr) exprNode()    {}
func (*InExpr) exprNode()      {}
func (*BetweenExpr) exprNode() {}
func (*ParenExpr) exprNode()   {}

// FuncName is the function's dotted name in upper case, for matching: "SYSTEM.TIMESTAMP".
func (e *FuncCall) FuncName() string {
	parts := make([]string, len(e.Name))
	for i, p := range e.Name {
		parts[i] = strings.ToUpper(p.Name)
	}
	return strings.Join(parts, ".")
}
