package frames

import (
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// names maps the symbolic descriptors (part 2 and 3 "amqp:…:list") to their codes.
var names = map[codec.Symbol]uint64{
	"amqp:open:list": CodeOpen, "amqp:begin:list": CodeBegin, "amqp:attach:list": CodeAttach,
	"amqp:flow:list": CodeFlow, "amqp:transfer:list": CodeTransfer,
	"amqp:disposition:list": CodeDisposition, "amqp:detach:list": CodeDetach,
	"amqp:end:list": CodeEnd, "amqp:close:list": CodeClose, "amqp:error:list": CodeError,
	"amqp:received:list": CodeReceived, "amqp:accepted:list": CodeAccepted,
	"amqp:rejected:list": CodeRejected, "amqp:released:list": CodeReleased,
	"amqp:modified:list": CodeModified, "amqp:source:list": CodeSource,
	"amqp:target:list": CodeTarget, "amqp:sasl-mechanisms:list": CodeSASLMechs,
	"amqp:sasl-init:list": CodeSASLInit, "amqp:sasl-challenge:list": CodeSASLChall,
	"amqp:sasl-response:list": CodeSASLResp, "amqp:sasl-outcome:list": CodeSASLOutcome,
}

// descriptorCode returns the numeric code of a descriptor given as a ulong or a known symbol.
func descriptorCode(d any) (uint64, bool) {
	switch d := d.(type) {
	case uint64:
		return d, true
	case codec.Symbol:
		c, ok := names[d]
		return c, ok
	}
	return 0, false
}

// composite splits a decoded described list (a field holding an error, a state, a terminus)
// into its code and fields.
func composite(v any) (code uint64, f []any, err error) {
	d, ok := v.(codec.Described)
	if !ok {
		return 0, nil, fmt.Errorf("is a %T; expected a described list", v)
	}
	code, ok = descriptorCode(d.Descriptor)
	if !ok {
		return 0, nil, fmt.Errorf("has descriptor %v; expected a known code", d.Descriptor)
	}
	switch l := d.Value.(type) {
	case []any:
		return code, l, nil
	case nil:
		return code, nil, nil
	}
	return 0, nil, fmt.Errorf("described 0x%x holds a %T; expected a list", code, d.Value)
}

// fields reads the fields of one composite, remembering the first error.
type fields struct {
	what string
	f    []any
	err  error
}

func (r *fields) get(i int) any {
	if i < len(r.f) {
		return r.f[i]
	}
	return nil
}

func (r *fields) fail(i int, name string, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("amqp frames: %s field %d (%s) %s", r.what, i, name, fmt.Sprintf(format, args...))
	}
}

func (r *fields) present(i int, name string, mandatory bool) (any, bool) {
	v := r.get(i)
	if v == nil {
		if mandatory {
			r.fail(i, name, "is mandatory but absent")
		}
		return nil, false
	}
	return v, true
}

// unsigned reads an unsigned integer of any width that fits in max.
func (r *fields) unsigned(i int, name string, max uint64, mandatory bool) (uint64, bool) {
	v, ok := r.present(i, name, mandatory)
	if !ok {
		return 0, false
	}
	var u uint64
	switch x := v.(type) {
	case uint8:
		u = uint64(x)
	case uint16:
		u = uint64(x)
	case uint32:
		u = uint64(x)
	case uint64:
		u = x
	default:
		r.fail(i, name, "is a %T; expected an unsigned integer", v)
		return 0, false
	}
	if u > max {
		r.fail(i, name, "is %d; the maximum is %d", u, max)
		return 0, false
	}
	return u, true
}

func (r *fields) uint32(i int, name string, def uint32) uint32 {
	if u, ok := r.unsigned(i, name, math.MaxUint32, false); ok {
		return uint32(u)
	}
	return def
}

func (r *fields) mustUint32(i int, name string) uint32 {
	u, _ := r.unsigned(i, name, math.MaxUint32, true)
	return uint32(u)
}

func (r *fields) uint32p(i int, name string) *uint32 {
	if u, ok := r.unsigned(i, name, math.MaxUint32, false); ok {
		v := uint32(u)
		return &v
	}
	return nil
}

func (r *fields) uint16p(i int, name string) *uint16 {
	if u, ok := r.unsigned(i, name, math.MaxUint16, false); ok {
		v := uint16(u)
		return &v
	}
	return nil
}

func (r *fields) uint16(i int, name string, def uint16) uint16 {
	if u, ok := r.unsigned(i, name, math.MaxUint16, false); ok {
		return uint16(u)
	}
	return def
}

func (r *fields) uint8(i int, name string, def uint8) uint8 {
	if u, ok := r.unsigned(i, name, math.MaxUint8, false); ok {
		return uint8(u)
	}
	return def
}

func (r *fields) uint8p(i int, name string) *uint8 {
	if u, ok := r.unsigned(i, name, math.MaxUint8, false); ok {
		v := uint8(u)
		return &v
	}
	return nil
}

func (r *fields) uint64(i int, name string) uint64 {
	u, _ := r.unsigned(i, name, math.MaxUint64, false)
	return u
}

func (r *fields) boolp(i int, name string, mandatory bool) *bool {
	v, ok := r.present(i, name, mandatory)
	if !ok {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(i, name, "is a %T; expected a boolean", v)
		return nil
	}
	return &b
}

func (r *fields) bool(i int, name string) bool {
	b := r.boolp(i, name, false)
	return b != nil && *b
}

func (r *fields) mustBool(i int, name string) bool {
	b := r.boolp(i, name, true)
	return b != nil && *b
}

// str reads a string; a symbol is accepted too (address fields are of type *).
func (r *fields) str(i int, name string, mandatory bool) string {
	v, ok := r.present(i, name, mandatory)
	if !ok {
		return ""
	}
	switch s := v.(type) {
	case string:
		return s
	case codec.Symbol:
		return string(s)
	}
	r.fail(i, name, "is a %T; expected a string", v)
	return ""
}

func (r *fields) symbol(i int, name string, def codec.Symbol, mandatory bool) codec.Symbol {
	v, ok := r.present(i, name, mandatory)
	if !ok {
		return def
	}
	switch s := v.(type) {
	case codec.Symbol:
		return s
	case string:
		return codec.Symbol(s)
	}
	r.fail(i, name, "is a %T; expected a symbol", v)
	return def
}

// symbols reads a multiple symbol field: one symbol or an array of them (part 1.4).
func (r *fields) symbols(i int, name string) []codec.Symbol {
	v, ok := r.present(i, name, false)
	if !ok {
		return nil
	}
	switch s := v.(type) {
	case codec.Symbol:
		return []codec.Symbol{s}
	case codec.Array:
		if len(s) == 0 {
			return nil
		}
		out := make([]codec.Symbol, 0, len(s))
		for _, e := range s {
			switch e := e.(type) {
			case codec.Symbol:
				out = append(out, e)
			case string:
				out = append(out, codec.Symbol(e))
			default:
				r.fail(i, name, "holds a %T; expected symbols", e)
				return nil
			}
		}
		return out
	}
	r.fail(i, name, "is a %T; expected a symbol or an array of symbols", v)
	return nil
}

func (r *fields) binary(i int, name string) []byte {
	v, ok := r.present(i, name, false)
	if !ok {
		return nil
	}
	b, ok := v.([]byte)
	if !ok {
		r.fail(i, name, "is a %T; expected binary", v)
	}
	return b
}

func (r *fields) mapv(i int, name string) *codec.Map {
	v, ok := r.present(i, name, false)
	if !ok {
		return nil
	}
	m, ok := v.(*codec.Map)
	if !ok {
		r.fail(i, name, "is a %T; expected a map", v)
	}
	return m
}

func (r *fields) error(i int, name string) *Error {
	v, ok := r.present(i, name, false)
	if !ok {
		return nil
	}
	e, err := decodeError(v)
	if err != nil {
		r.fail(i, name, "%v", err)
	}
	return e
}

func (r *fields) state(i int, name string) DeliveryState {
	v, ok := r.present(i, name, false)
	if !ok {
		return nil
	}
	s, err := decodeState(v)
	if err != nil {
		r.fail(i, name, "%v", err)
	}
	return s
}

// Encoding helpers: each returns nil (an absent field) for Go's "absent".

func described(code uint64, f []any) codec.Described {
	for len(f) > 0 && f[len(f)-1] == nil {
		f = f[:len(f)-1]
	}
	return codec.Described{Descriptor: code, Value: f}
}

func optU32(p *uint32) any {
	if p == nil {
		return nil
	}
	return *p
}

func optU16(p *uint16) any {
	if p == nil {
		return nil
	}
	return *p
}

func optU8(p *uint8) any {
	if p == nil {
		return nil
	}
	return *p
}

func optBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

// flag encodes a boolean whose default is false: false is left absent.
func flag(b bool) any {
	if !b {
		return nil
	}
	return true
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func optSymbol(s codec.Symbol) any {
	if s == "" {
		return nil
	}
	return s
}

func optSymbols(s []codec.Symbol) any {
	if len(s) == 0 {
		return nil
	}
	return s
}

func optBinary(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func optMap(m *codec.Map) any {
	if m == nil {
		return nil
	}
	return m
}

// nonZero encodes a number whose absence means the same as zero.
func nonZero[T uint32 | uint64](v T) any {
	if v == 0 {
		return nil
	}
	return v
}
