package codec

import (
	"bytes"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

// randValue builds a random value in decoded form (the types Decode returns), so that
// Decode(Append(v)) must equal v exactly.
func randValue(r *rand.Rand, depth int) any {
	n := 22
	if depth >= 4 {
		n = 18 // scalars only
	}
	switch r.Intn(n) {
	case 0:
		return nil
	case 1:
		return r.Intn(2) == 0
	case 2:
		return uint8(r.Uint32())
	case 3:
		return uint16(r.Uint32())
	case 4:
		return uint32(r.Uint64() >> uint(r.Intn(64)))
	case 5:
		return r.Uint64() >> uint(r.Intn(64))
	case 6:
		return int8(r.Uint32())
	case 7:
		return int16(r.Uint32())
	case 8:
		return int32(int64(r.Uint64()) >> uint(r.Intn(64)))
	case 9:
		return int64(r.Uint64()) >> uint(r.Intn(64))
	case 10:
		return r.Float32()
	case 11:
		return r.NormFloat64()
	case 12:
		return Char(r.Int31n(0x10ffff))
	case 13:
		return time.UnixMilli(r.Int63n(1<<50) - 1<<49).UTC()
	case 14:
		var u UUID
		r.Read(u[:])
		return u
	case 15:
		b := make([]byte, randLen(r))
		r.Read(b)
		return b
	case 16:
		return strings.Repeat("é", randLen(r)/2)
	case 17:
		return Symbol(strings.Repeat("s", randLen(r)))
	case 18:
		l := make([]any, r.Intn(6))
		for i := range l {
			l[i] = randValue(r, depth+1)
		}
		return l
	case 19:
		m := &Map{Pairs: make([]Pair, r.Intn(5))}
		for i := range m.Pairs {
			m.Pairs[i] = Pair{randValue(r, depth+1), randValue(r, depth+1)}
		}
		return m
	case 20:
		proto := randValue(r, 5)
		a := Array{}
		for i := r.Intn(4); i > 0; i-- {
			v := randValue(r, 5)
			for reflect.TypeOf(v) != reflect.TypeOf(proto) {
				v = randValue(r, 5)
			}
			a = append(a, v)
		}
		if r.Intn(3) == 0 && len(a) > 0 {
			for i := range a {
				a[i] = Described{Descriptor: Symbol("d"), Value: a[i]}
			}
		}
		return a
	default:
		var d any = r.Uint64() >> 40
		if r.Intn(2) == 0 {
			d = Symbol("com.example:x")
		}
		return Described{Descriptor: d, Value: randValue(r, depth+1)}
	}
}

func randLen(r *rand.Rand) int {
	if r.Intn(8) == 0 {
		return 250 + r.Intn(20) // around the 8/32-bit boundary
	}
	return r.Intn(12)
}

func TestRoundTripRandom(t *testing.T) {
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewSource(seed))
	for i := 0; i < 3000; i++ {
		v := randValue(r, 0)
		b, err := Append(nil, v)
		if err != nil {
			t.Fatalf("seed %d: Append(%#v): %v", seed, v, err)
		}
		got, n, err := Decode(b)
		if err != nil || n != len(b) {
			t.Fatalf("seed %d: Decode(Append(%#v)) = %d of %d bytes, %v", seed, v, n, len(b), err)
		}
		if !equalValues(got, v) {
			t.Fatalf("seed %d: round trip of %#v gave %#v", seed, v, got)
		}
		again, _ := Append(nil, got)
		if !bytes.Equal(again, b) {
			t.Fatalf("seed %d: re-encoding differs: %x vs %x", seed, again, b)
		}
	}
}

// equalValues is reflect.DeepEqual except that NaN equals NaN and an empty binary equals a nil one.
func equalValues(a, b any) bool {
	ea, _ := Append(nil, a)
	eb, _ := Append(nil, b)
	return reflect.TypeOf(a) == reflect.TypeOf(b) && bytes.Equal(ea, eb)
}
