package sqlval

import (
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestArithmetic(t *testing.T) {
	type op func(a, b Value) (Value, error)
	ops := map[string]op{"+": Add, "-": Sub, "*": Mul, "/": Div, "%": Mod, "||": Concat}
	tests := []struct {
		a    Value
		op   string
		b    Value
		want Value
		err  error
	}{
		{I(2), "+", I(3), I(5), nil},
		{I(2), "+", F(0.5), F(2.5), nil},
		{F(0.5), "+", I(2), F(2.5), nil},
		{S("ab"), "+", S("cd"), S("abcd"), nil},
		{N, "+", I(1), N, nil},
		{I(1), "+", N, N, nil},
		{I(math.MaxInt64), "+", I(1), N, ErrOverflow},
		{I(math.MinInt64), "+", I(-1), N, ErrOverflow},
		{I(1), "+", S("1"), N, ErrType},
		{B(true), "+", I(1), N, ErrType},
		{DT(t, "2026-01-01"), "+", I(1), N, ErrType},
		{I(2), "-", I(5), I(-3), nil},
		{F(2), "-", I(5), F(-3), nil},
		{I(math.MinInt64), "-", I(1), N, ErrOverflow},
		{I(0), "-", I(math.MinInt64), N, ErrOverflow},
		{S("a"), "-", S("b"), N, ErrType},
		{I(6), "*", I(7), I(42), nil},
		{I(-6), "*", F(0.5), F(-3), nil},
		{I(math.MinInt64), "*", I(1), I(math.MinInt64), nil},
		{I(math.MinInt64), "*", I(-1), N, ErrOverflow},
		{I(1 << 32), "*", I(1 << 31), N, ErrOverflow},
		{I(-(1 << 32)), "*", I(1 << 31), I(math.MinInt64), nil},
		{I(7), "/", I(2), I(3), nil},
		{I(-7), "/", I(2), I(-3), nil},
		{I(7), "/", F(2), F(3.5), nil},
		{F(7), "/", I(2), F(3.5), nil},
		{I(7), "/", I(0), N, ErrDivideByZero},
		{F(7), "/", F(0), N, ErrDivideByZero},
		{I(math.MinInt64), "/", I(-1), N, ErrOverflow},
		{N, "/", I(0), N, nil},
		{I(7), "%", I(3), I(1), nil},
		{I(-7), "%", I(3), I(-1), nil},
		{I(7), "%", I(-3), I(1), nil},
		{I(math.MinInt64), "%", I(-1), I(0), nil},
		{F(7.5), "%", I(2), F(1.5), nil},
		{I(7), "%", I(0), N, ErrDivideByZero},
		{S("a"), "||", S("b"), S("ab"), nil},
		{S("a"), "||", I(1), S("a1"), nil},
		{S("a"), "||", N, N, nil},
	}
	for _, tt := range tests {
		got, err := ops[tt.op](tt.a, tt.b)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%v %s %v = %v, %v; want error %v", tt.a, tt.op, tt.b, got, err, tt.err)
			}
			continue
		}
		if err != nil || !Equal(got, tt.want) || got.Kind() != tt.want.Kind() {
			t.Errorf("%v %s %v = %v [%s], %v; want %v [%s]", tt.a, tt.op, tt.b, got, got.Kind(), err, tt.want, tt.want.Kind())
		}
	}
	if v, err := Neg(I(3)); err != nil || v != I(-3) {
		t.Errorf("Neg(3) = %v, %v", v, err)
	}
	if v, err := Neg(N); err != nil || !v.IsNull() {
		t.Errorf("Neg(NULL) = %v, %v", v, err)
	}
	if _, err := Neg(I(math.MinInt64)); !errors.Is(err, ErrOverflow) {
		t.Errorf("Neg(MinInt64) err = %v", err)
	}
	if _, err := Neg(S("x")); !errors.Is(err, ErrType) {
		t.Errorf("Neg('x') err = %v", err)
	}
}

// TestMulInt64 compares the overflow-checked multiply with float arithmetic on random inputs.
func TestMulInt64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := int64(r.Uint64()) >> r.IntN(64)
		y := int64(r.Uint64()) >> r.IntN(64)
		p, ok := mulInt64(x, y)
		exact := float64(x) * float64(y)
		fits := exact >= -9.2233720368547e18 && exact <= 9.2233720368547e18
		if ok && p != x*y {
			t.Fatalf("mulInt64(%d, %d) = %d", x, y, p)
		}
		if fits && !ok {
			t.Fatalf("mulInt64(%d, %d) reported overflow", x, y)
		}
		if ok && x != 0 && p/x != y {
			t.Fatalf("mulInt64(%d, %d) = %d wrapped", x, y, p)
		}
	}
}

func TestCompareSQL(t *testing.T) {
	tests := []struct {
		a, b  Value
		want  int
		known bool
		err   error
	}{
		{I(1), F(1.5), -1, true, nil},
		{F(2), I(2), 0, true, nil},
		{I(1<<53 + 1), F(1 << 53), 1, true, nil},
		{B(true), B(false), 1, true, nil},
		{B(true), I(1), 0, true, nil},
		{F(0.5), B(false), 1, true, nil},
		{S("a"), S("B"), 1, true, nil},
		{S("abc"), S("abd"), -1, true, nil},
		{DT(t, "2026-01-02"), DT(t, "2026-01-01"), 1, true, nil},
		{DT(t, "2026-01-02T00:00:00Z"), S("2026-01-02"), 0, true, nil},
		{S("2026-01-03"), DT(t, "2026-01-02"), 1, true, nil},
		{N, I(1), 0, false, nil},
		{I(1), N, 0, false, nil},
		{N, N, 0, false, nil},
		{I(1), S("1"), 0, false, ErrType},
		{DT(t, "2026-01-02"), S("soon"), 0, false, ErrConversion},
		{rec(), rec(), 0, false, ErrType},
		{arr(), arr(), 0, false, ErrType},
	}
	for _, tt := range tests {
		got, known, err := CompareSQL(tt.a, tt.b)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("CompareSQL(%v, %v) err = %v, want %v", tt.a, tt.b, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || known != tt.known {
			t.Errorf("CompareSQL(%v, %v) = %d, %v, %v; want %d, %v", tt.a, tt.b, got, known, err, tt.want, tt.known)
		}
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"abc", "abc", true},
		{"abc", "ab", false},
		{"abc", "a%", true},
		{"abc", "%c", true},
		{"abc", "%b%", true},
		{"abc", "%", true},
		{"", "%", true},
		{"", "", true},
		{"", "_", false},
		{"abc", "a_c", true},
		{"aé中", "a__", true},
		{"abc", "_", false},
		{"Dean", "_ean", true},
		{"Carsen", "[C-P]arsen", true},
		{"Barsen", "[C-P]arsen", false},
		{"del", "de[^l]%", false},
		{"dex", "de[^l]%", true},
		{"a]", "a]", true},
		{"a[", "a[", true},
		{"a[b", "a[b", true},
		{"b", "[abc]", true},
		{"d", "[abc]", false},
		{"^", "[^]", true},
		{"100%", "100[%]", true},
		{"1000", "100[%]", false},
		{"ABC", "abc", false},
		{"aXbXc", "a%b%c", true},
		{"aXbX", "a%b%c", false},
		{"mississippi", "%ss%ss%", true},
		{"mississippi", "m%i%s%p_", true},
	}
	for _, tt := range tests {
		if got := Like(tt.s, tt.p); got != tt.want {
			t.Errorf("Like(%q, %q) = %v, want %v", tt.s, tt.p, got, tt.want)
		}
	}
	if !CompileLikeEscape(`100!%`, '!').Match("100%") || CompileLikeEscape(`100!%`, '!').Match("1000") {
		t.Error("ESCAPE character not honoured")
	}
}

// TestLikeMatchesRegexp is a property test of the optimised matcher against a naive translation
// of the pattern into a regular expression.
func TestLikeMatchesRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "b", "é", "%", "_", "[ab]", "[^a]", "[a-b]"}
	for range 20000 {
		var p, re strings.Builder
		re.WriteString("^(?s:")
		for range r.IntN(6) {
			tok := alphabet[r.IntN(len(alphabet))]
			p.WriteString(tok)
			switch tok {
			case "%":
				re.WriteString(".*")
			case "_":
				re.WriteString(".")
			case "[ab]", "[^a]", "[a-b]":
				re.WriteString(tok)
			default:
				re.WriteString(regexp.QuoteMeta(tok))
			}
		}
		re.WriteString(")$")
		want := regexp.MustCompile(re.String())
		lp := CompileLike(p.String())
		for range 5 {
			var s strings.Builder
			for range r.IntN(7) {
				s.WriteString([]string{"a", "b", "é", "c"}[r.IntN(4)])
			}
			if got := lp.Match(s.String()); got != want.MatchString(s.String()) {
				t.Fatalf("Like(%q, %q) = %v, regexp %s says %v", s.String(), p.String(), got, re.String(), !got)
			}
		}
	}
}

func BenchmarkLike(b *testing.B) {
	p := CompileLike("dev-%-x_z%")
	b.ReportAllocs()
	for b.Loop() {
		p.Match("dev-1234-xyz-tail")
	}
}
