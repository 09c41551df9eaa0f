package sqlval

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Func is a scalar built-in function.
//
// Every Func propagates NULL the Stream Analytics way for its own kind (most return NULL when an
// argument is NULL; CONCAT, ISNULL and COALESCE are the documented exceptions). Call never
// modifies args and is safe for concurrent use.
//
// DATEADD, DATEDIFF, DATEPART and DATENAME take the date part keyword as their first argument,
// passed as a string value ("minute", "mi", ...). A planner that sees a keyword there should
// resolve it once with ParseDatePart and call DateAdd, DateDiff, DatePartOf or DateName directly.
type Func struct {
	Name    string // canonical spelling, as in the Stream Analytics reference
	MinArgs int
	MaxArgs int // -1: no upper bound
	Call    func(args []Value) (Value, error)
}

// CheckArity returns an ErrArgument error when n arguments do not fit f.
func (f Func) CheckArity(n int) error {
	if n < f.MinArgs || (f.MaxArgs >= 0 && n > f.MaxArgs) {
		want := fmt.Sprintf("%d", f.MinArgs)
		switch {
		case f.MaxArgs < 0:
			want = fmt.Sprintf("at least %d", f.MinArgs)
		case f.MaxArgs != f.MinArgs:
			want = fmt.Sprintf("%d to %d", f.MinArgs, f.MaxArgs)
		}
		return fmt.Errorf("%w: %s takes %s arguments, got %d", ErrArgument, f.Name, want, n)
	}
	return nil
}

var registry = map[string]Func{}

func register(fs ...Func) {
	for _, f := range fs {
		registry[strings.ToLower(f.Name)] = f
	}
}

// Lookup returns the built-in scalar function with the given name, matched case-insensitively.
func Lookup(name string) (Func, bool) {
	f, ok := registry[strings.ToLower(name)]
	return f, ok
}

// Names returns the canonical names of all built-in scalar functions, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for _, f := range registry {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

func init() {
	register(
		Func{"ISNULL", 2, 2, fnIsNull},
		Func{"COALESCE", 1, -1, fnCoalesce},
		Func{"GetType", 1, 1, fnGetType},
		Func{"GetRecordPropertyValue", 2, 2, fnGetRecordPropertyValue},
		Func{"GetArrayElement", 2, 2, fnGetArrayElement},
		Func{"GetArrayLength", 1, 1, fnGetArrayLength},
	)
	registerDate()
	registerString()
	registerMath()
}

// ISNULL(check, replacement): check unless it is NULL.
func fnIsNull(a []Value) (Value, error) {
	if a[0].kind != KindNull {
		return a[0], nil
	}
	return a[1], nil
}

// COALESCE(e1, e2, ...): the first argument that is not NULL, or NULL.
func fnCoalesce(a []Value) (Value, error) {
	for _, v := range a {
		if v.kind != KindNull {
			return v, nil
		}
	}
	return Null, nil
}

// GetType(e): the data type name ("bigint", "float", "nvarchar(max)", "datetime", "bit",
// "record", "array"); NULL for NULL.
func fnGetType(a []Value) (Value, error) {
	if a[0].kind == KindNull {
		return Null, nil
	}
	return String(a[0].kind.String()), nil
}

// GetRecordPropertyValue(record, path): the property at path, a dot-separated list of names
// matched case-insensitively; NULL when the record or path is NULL or a name is missing.
func fnGetRecordPropertyValue(a []Value) (Value, error) {
	rec, path := a[0], a[1]
	if rec.kind == KindNull || path.kind == KindNull {
		return Null, nil
	}
	if rec.kind != KindRecord {
		return Null, fmt.Errorf("%w: GetRecordPropertyValue takes a record, not %s", ErrType, rec.kind)
	}
	if path.kind != KindString {
		return Null, fmt.Errorf("%w: GetRecordPropertyValue takes a property path string, not %s", ErrType, path.kind)
	}
	return RecordPath(rec, path.s), nil
}

// RecordPath follows a dot-separated property path through nested records; an exact match of the
// whole remaining path (a property whose name contains dots) is tried before splitting.
func RecordPath(rec Value, path string) Value {
	for {
		if v, ok := rec.Get(path); ok {
			return v
		}
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return Null
		}
		next, ok := rec.Get(path[:i])
		if !ok || next.kind != KindRecord {
			return Null
		}
		rec, path = next, path[i+1:]
	}
}

// GetArrayElement(array, index): the element at the 0-based index; NULL when out of range.
func fnGetArrayElement(a []Value) (Value, error) {
	arr, idx := a[0], a[1]
	if arr.kind == KindNull || idx.kind == KindNull {
		return Null, nil
	}
	if arr.kind != KindArray {
		return Null, fmt.Errorf("%w: GetArrayElement takes an array, not %s", ErrType, arr.kind)
	}
	i, err := intArg("GetArrayElement", idx)
	if err != nil {
		return Null, err
	}
	v, _ := arr.Index(i)
	return v, nil
}

// GetArrayLength(array): the number of elements, bigint.
func fnGetArrayLength(a []Value) (Value, error) {
	switch a[0].kind {
	case KindNull:
		return Null, nil
	case KindArray:
		return Bigint(int64(a[0].Len())), nil
	}
	return Null, fmt.Errorf("%w: GetArrayLength takes an array, not %s", ErrType, a[0].kind)
}

// intArg reads an integer argument: a bigint, or a float with an integral value (literals such as
// 2.0 are common in hand-written queries).
func intArg(fn string, v Value) (int64, error) {
	switch v.kind {
	case KindBigint:
		return int64(v.n), nil
	case KindFloat:
		f := v.Float()
		if f == math.Trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 {
			return int64(f), nil
		}
	}
	return 0, fmt.Errorf("%w: %s takes a bigint here, not %s %s", ErrType, fn, v.kind, quoteForError(v))
}

// strArg reads a string argument. Other scalars are converted with the nvarchar(max) CAST rules,
// as T-SQL converts implicitly; records and arrays are ErrType.
func strArg(fn string, v Value) (string, error) {
	switch v.kind {
	case KindString:
		return v.s, nil
	case KindRecord, KindArray:
		return "", fmt.Errorf("%w: %s takes nvarchar(max), not %s", ErrType, fn, v.kind)
	}
	s, _ := toNvarchar(v)
	return s.s, nil
}

// anyNull reports whether any argument is NULL.
func anyNull(a []Value) bool {
	for _, v := range a {
		if v.kind == KindNull {
			return true
		}
	}
	return false
}
