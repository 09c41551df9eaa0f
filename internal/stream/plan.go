package stream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// plan is a compiled query: its timed sources, its streams and its nodes in dependency order.
type plan struct {
	sources   []*sourceSpec
	streams   []string       // a name per stream id, for messages
	nodes     []*selectNode  // in dependency order: a node runs after the nodes it reads
	inputs    []Input        // inputs named by the query
	outputs   []string       // outputs written, in order of first use
	outputOf  map[int]string // stream id → output name
	outputIDs []int          // output streams in the order of their names
}

// sourceSpec is one input read with one TIMESTAMP BY (several FROMs of the same input with
// the same TIMESTAMP BY share it).
type sourceSpec struct {
	input  string
	stream int
	tsExpr evalFn // nil: arrival time
	tsText string
	over   evalFn // TIMESTAMP BY … OVER key, or nil
}

type stepInfo struct {
	name   string
	body   *saql.Statement
	stream int
	state  int // 0 not planned, 1 being planned, 2 planned
}

type planner struct {
	src       string
	lines     []string
	opts      Options
	p         *plan
	steps     map[string]*stepInfo
	sourceKey map[string]int
	outStream map[string]int
	inputSeen map[string]bool
}

func planQuery(src string, q *saql.Query, opts Options) (*plan, error) {
	pl := &planner{src: src, lines: strings.Split(src, "\n"), opts: opts,
		p: &plan{outputOf: map[int]string{}}, steps: map[string]*stepInfo{},
		sourceKey: map[string]int{}, outStream: map[string]int{}, inputSeen: map[string]bool{}}
	for _, w := range q.With {
		key := strings.ToLower(w.Name.Name)
		if _, dup := pl.steps[key]; dup {
			return nil, errAt(w.At, "give each step its own name", "step %s is defined twice", w.Name.Name)
		}
		pl.steps[key] = &stepInfo{name: w.Name.Name, body: w.Body, stream: pl.newStream("step " + w.Name.Name)}
	}
	for _, w := range q.With {
		if err := pl.planStep(pl.steps[strings.ToLower(w.Name.Name)], w.At); err != nil {
			return nil, err
		}
	}
	for _, st := range q.Statements {
		name := "output"
		if into := st.Into(); into != nil {
			name = into.Name
		}
		id, ok := pl.outStream[strings.ToLower(name)]
		if !ok {
			id = pl.newStream("output " + name)
			pl.outStream[strings.ToLower(name)] = id
			pl.p.outputOf[id] = name
			pl.p.outputs = append(pl.p.outputs, name)
		}
		if err := pl.planStatement(st, id); err != nil {
			return nil, err
		}
	}
	for id := range pl.p.outputOf {
		pl.p.outputIDs = append(pl.p.outputIDs, id)
	}
	slices.SortFunc(pl.p.outputIDs, func(a, b int) int {
		return strings.Compare(pl.p.outputOf[a], pl.p.outputOf[b])
	})
	return pl.p, nil
}

func (pl *planner) newStream(name string) int {
	pl.p.streams = append(pl.p.streams, name)
	return len(pl.p.streams) - 1
}

func (pl *planner) planStep(s *stepInfo, at saql.Pos) error {
	switch s.state {
	case 2:
		return nil
	case 1:
		return errAt(at, "a step may only read inputs and other steps, without cycles", "step %s reads itself", s.name)
	}
	s.state = 1
	if err := pl.planStatement(s.body, s.stream); err != nil {
		return err
	}
	s.state = 2
	return nil
}

func (pl *planner) planStatement(st *saql.Statement, out int) error {
	for _, sel := range st.Selects {
		n, err := pl.planSelect(sel, out)
		if err != nil {
			return err
		}
		pl.p.nodes = append(pl.p.nodes, n)
	}
	return nil
}

// doubleQuoted reports whether the name at a position is written in double quotes.
func (pl *planner) doubleQuoted(at saql.Pos) bool {
	if at.Line < 1 || at.Line > len(pl.lines) {
		return false
	}
	line := []rune(pl.lines[at.Line-1])
	return at.Col >= 1 && at.Col <= len(line) && line[at.Col-1] == '"'
}

// streamOf resolves a FROM or JOIN source: a WITH step, reference data or a timed input.
// It returns the stream id, or ref=true for reference data.
func (pl *planner) streamOf(s *saql.Source) (id int, ref bool, err error) {
	name := s.Name.Name
	if st, ok := pl.steps[strings.ToLower(name)]; ok {
		if s.TimestampBy != nil {
			return 0, false, errAt(s.TimestampBy.Pos(), "put TIMESTAMP BY on the input inside the step", "TIMESTAMP BY applies to inputs, and %s is a step", name)
		}
		if err := pl.planStep(st, s.At); err != nil {
			return 0, false, err
		}
		return st.stream, false, nil
	}
	if rows, ok := pl.reference(name); ok {
		_ = rows
		pl.addInput(name, true)
		return 0, true, nil
	}
	pl.addInput(name, false)
	key := strings.ToLower(name)
	sp := &sourceSpec{input: name}
	bind := &scope{p: pl, bindings: []binding{{name: aliasOf(s)}}}
	if s.TimestampBy != nil {
		if sp.tsExpr, err = bind.compile(s.TimestampBy); err != nil {
			return 0, false, err
		}
		sp.tsText = s.TimestampBy.String()
		key += "\x00" + sp.tsText
	}
	if len(s.TimestampOver) > 0 {
		if len(s.TimestampOver) > 1 {
			return 0, false, errAt(s.TimestampOver[1].Pos(), "use one substream key", "TIMESTAMP BY … OVER takes one column")
		}
		if sp.over, err = bind.compile(s.TimestampOver[0]); err != nil {
			return 0, false, err
		}
		key += "\x00" + s.TimestampOver[0].String()
	}
	if i, ok := pl.sourceKey[key]; ok {
		return pl.p.sources[i].stream, false, nil
	}
	sp.stream = pl.newStream("input " + name)
	pl.sourceKey[key] = len(pl.p.sources)
	pl.p.sources = append(pl.p.sources, sp)
	return sp.stream, false, nil
}

func (pl *planner) reference(name string) ([]sqlval.Value, bool) {
	for k, rows := range pl.opts.Reference {
		if strings.EqualFold(k, name) {
			return rows, true
		}
	}
	return nil, false
}

func (pl *planner) addInput(name string, ref bool) {
	if pl.inputSeen[strings.ToLower(name)] {
		return
	}
	pl.inputSeen[strings.ToLower(name)] = true
	in := Input{Name: name, Reference: ref}
	if ref {
		pl.p.inputs = append(pl.p.inputs, in)
		return
	}
	i := 0
	for i < len(pl.p.inputs) && !pl.p.inputs[i].Reference {
		i++
	}
	pl.p.inputs = append(pl.p.inputs[:i], append([]Input{in}, pl.p.inputs[i:]...)...)
}

func aliasOf(s *saql.Source) string {
	if s.Alias != nil {
		return s.Alias.Name
	}
	if s.Name != nil {
		return s.Name.Name
	}
	return ""
}

// planSelect compiles one SELECT into a node writing to stream out.
func (pl *planner) planSelect(s *saql.Select, out int) (*selectNode, error) {
	from, ref, err := pl.streamOf(s.From)
	if err != nil {
		return nil, err
	}
	if ref {
		return nil, errAt(s.From.At, "read a stream in FROM and JOIN the reference data to it", "reference data %s cannot be the FROM of a SELECT", s.From.Name.Name)
	}
	n := &selectNode{from: from, out: out}
	sc := &scope{p: pl, bindings: []binding{{name: aliasOf(s.From)}}, analytics: &n.analytics}
	for _, j := range s.Joins {
		op, err := pl.planJoin(j, sc)
		if err != nil {
			return nil, err
		}
		n.joins = append(n.joins, op)
	}
	if s.Where != nil {
		if n.where, err = sc.compile(s.Where); err != nil {
			return nil, err
		}
	}
	itemScope := sc
	if len(s.GroupBy) > 0 {
		if itemScope, err = pl.planGroup(s, sc, n); err != nil {
			return nil, err
		}
	} else if s.Having != nil {
		return nil, errAt(s.Having.Pos(), "add GROUP BY with a window", "HAVING needs GROUP BY")
	}
	if err := pl.planItems(s, itemScope, n); err != nil {
		return nil, err
	}
	if s.Having != nil {
		itemScope.aliases = map[string]int{}
		for i, it := range n.items {
			if _, dup := itemScope.aliases[strings.ToLower(it.name)]; !dup && it.star == nil {
				itemScope.aliases[strings.ToLower(it.name)] = i
			}
		}
		if n.having, err = itemScope.compile(s.Having); err != nil {
			return nil, err
		}
	}
	if s.Distinct || s.Top != nil {
		return nil, errAt(s.At, "use GROUP BY with a window to remove duplicates", "SELECT DISTINCT and TOP are not supported on a stream")
	}
	return n, nil
}

func (pl *planner) planJoin(j *saql.Join, sc *scope) (*joinOp, error) {
	op := &joinOp{outer: j.Kind == saql.JoinLeft || j.Kind == saql.OuterApply}
	if j.Kind == saql.CrossApply || j.Kind == saql.OuterApply {
		f := j.Source.Func
		name := f.FuncName()
		if (name != "GETARRAYELEMENTS" && name != "GETRECORDPROPERTIES") || len(f.Args) != 1 {
			return nil, errAt(f.At, "write CROSS APPLY GetArrayElements(array) AS e or GetRecordProperties(record) AS p", "APPLY takes GetArrayElements(x) or GetRecordProperties(x)")
		}
		if j.Source.Alias == nil {
			return nil, errAt(f.At, "add AS name after the call", "APPLY needs an alias for its rows")
		}
		var err error
		if op.apply, err = sc.compile(f.Args[0]); err != nil {
			return nil, err
		}
		op.mode, op.properties = joinApply, name == "GETRECORDPROPERTIES"
		sc.bindings = append(sc.bindings, binding{name: j.Source.Alias.Name, kind: bindApply})
		return op, nil
	}
	id, ref, err := pl.streamOf(j.Source)
	if err != nil {
		return nil, err
	}
	right := len(sc.bindings)
	sc.bindings = append(sc.bindings, binding{name: aliasOf(j.Source)})
	if op.on, err = sc.compile(j.On); err != nil {
		return nil, err
	}
	if ref {
		rows, _ := pl.reference(j.Source.Name.Name)
		op.mode, op.refRows = joinRef, rows
		sc.bindings[right].kind = bindRef
		return op, nil
	}
	op.mode, op.right = joinStream, id
	if !op.joinBound(j.On, sc, right) {
		return nil, errAt(j.At, fmt.Sprintf("add AND DATEDIFF(second, %s, %s) BETWEEN 0 AND 10 (any unit and bounds) to ON", sc.bindings[0].name, sc.bindings[right].name),
			"a JOIN of two streams must be bounded in time")
	}
	return op, nil
}

// planGroup compiles GROUP BY: the window and the keys. It returns the scope of the items.
func (pl *planner) planGroup(s *saql.Select, sc *scope, n *selectNode) (*scope, error) {
	var wins []windowSpec
	var ids []sqlval.Value
	var keys []evalFn
	snapshot := false
	for _, x := range s.GroupBy {
		if c, ok := x.(*saql.FuncCall); ok {
			name := c.FuncName()
			if windowNames[name] {
				if wins != nil {
					return nil, errAt(c.At, "group by one window, or list several in Windows(…)", "GROUP BY has two windows")
				}
				var err error
				if wins, ids, err = sc.windowsOf(c); err != nil {
					return nil, err
				}
				continue
			}
			if name == "SYSTEM.TIMESTAMP" {
				snapshot = true
			}
		}
		k, err := (&scope{p: pl, bindings: sc.bindings, analytics: sc.analytics}).compile(x)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if wins == nil {
		if !snapshot {
			return nil, errAt(s.GroupBy[0].Pos(), "add a window, e.g. GROUP BY Key, TumblingWindow(second, 10)", "GROUP BY on a stream needs a window")
		}
		wins, ids = []windowSpec{{kind: winSnapshot}}, []sqlval.Value{sqlval.Null}
	}
	slots := &aggSlots{text: map[string]int{}}
	for _, w := range wins {
		n.groups = append(n.groups, newGrouping(w, keys, slots))
	}
	n.windowIDs = ids
	return &scope{p: pl, bindings: sc.bindings, group: slots, analytics: sc.analytics}, nil
}

// planItems compiles the SELECT items and names the columns.
func (pl *planner) planItems(s *saql.Select, sc *scope, n *selectNode) error {
	for i, it := range s.Items {
		if it.Star {
			f, err := pl.starItem(it, sc, n)
			if err != nil {
				return err
			}
			n.items = append(n.items, item{star: f})
			continue
		}
		f, err := sc.compile(it.Expr)
		if err != nil {
			return err
		}
		n.items = append(n.items, item{name: columnName(it, i), f: f})
	}
	return nil
}

func (pl *planner) starItem(it *saql.SelectItem, sc *scope, n *selectNode) (evalFn, error) {
	if len(n.groups) > 0 {
		return nil, errAt(it.At, "name the grouped columns and aggregates", "SELECT * is not allowed with GROUP BY")
	}
	bi, path := 0, names(it.Path)
	if it.Qualifier != nil {
		if b := sc.bindingIndex(it.Qualifier.Name); b >= 0 {
			bi = b
		} else {
			path = append([]string{it.Qualifier.Name}, path...)
		}
	} else {
		for _, b := range sc.bindings[1:] {
			if b.kind != bindApply {
				return nil, errAt(it.At, "name the columns, as in SELECT a.x, b.y", "SELECT * is not allowed in a JOIN")
			}
		}
	}
	return func(e *env) (sqlval.Value, error) {
		v := lookupPath(e.t.b[bi], path)
		if v.Kind() != sqlval.KindRecord {
			return sqlval.Record(nil), nil
		}
		return v, nil
	}, nil
}

// columnName is an item's output name: its alias, or the last name of a column reference, or
// the function's name.
func columnName(it *saql.SelectItem, i int) string {
	if it.Alias != nil {
		return it.Alias.Name
	}
	switch x := it.Expr.(type) {
	case *saql.ColumnRef:
		return x.Parts[len(x.Parts)-1].Name
	case *saql.FuncCall:
		if len(x.Path) > 0 {
			return x.Path[len(x.Path)-1].Name
		}
		return x.Name[len(x.Name)-1].Name
	}
	return fmt.Sprintf("Column%d", i+1)
}
