package frames

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Default terminus expiry policy (part 3.5.6).
const ExpirySessionEnd codec.Symbol = "session-end"

// The error type (part 2.8.14), the delivery states (part 3.4) and the termini (part 3.5),
// which appear inside performatives.

func decodeError(v any) (*Error, error) {
	code, f, err := composite(v)
	if err != nil {
		return nil, err
	}
	if code != CodeError {
		return nil, fmt.Errorf("has descriptor 0x%x; expected an error (0x1d)", code)
	}
	r := fields{what: "error", f: f}
	e := &Error{
		Condition:   r.symbol(0, "condition", "", true),
		Description: r.str(1, "description", false),
		Info:        r.mapv(2, "info"),
	}
	return e, r.err
}

func errorValue(e *Error) any {
	if e == nil {
		return nil
	}
	return described(CodeError, []any{e.Condition, optString(e.Description), optMap(e.Info)})
}

func decodeState(v any) (DeliveryState, error) {
	code, f, err := composite(v)
	if err != nil {
		return nil, err
	}
	switch code {
	case CodeReceived:
		r := fields{what: "received", f: f}
		s := &Received{SectionNumber: r.mustUint32(0, "section-number")}
		if u, ok := r.unsigned(1, "section-offset", ^uint64(0), true); ok {
			s.SectionOffset = u
		}
		return s, r.err
	case CodeAccepted:
		return &Accepted{}, nil
	case CodeRejected:
		r := fields{what: "rejected", f: f}
		return &Rejected{Error: r.error(0, "error")}, r.err
	case CodeReleased:
		return &Released{}, nil
	case CodeModified:
		r := fields{what: "modified", f: f}
		s := &Modified{
			DeliveryFailed:     r.bool(0, "delivery-failed"),
			UndeliverableHere:  r.bool(1, "undeliverable-here"),
			MessageAnnotations: r.mapv(2, "message-annotations"),
		}
		return s, r.err
	}
	return nil, fmt.Errorf("has descriptor 0x%x; expected a delivery state (received, accepted, rejected, released, modified)", code)
}

func stateValue(s DeliveryState) any {
	switch s := s.(type) {
	case *Received:
		if s == nil {
			return nil
		}
		return described(CodeReceived, []any{s.SectionNumber, s.SectionOffset})
	case *Accepted:
		return described(CodeAccepted, nil)
	case *Rejected:
		if s == nil {
			return described(CodeRejected, nil)
		}
		return described(CodeRejected, []any{errorValue(s.Error)})
	case *Released:
		return described(CodeReleased, nil)
	case *Modified:
		if s == nil {
			return described(CodeModified, nil)
		}
		return described(CodeModified, []any{flag(s.DeliveryFailed), flag(s.UndeliverableHere), optMap(s.MessageAnnotations)})
	}
	return nil
}

// decodeSource decodes a source; a null source stays nil (a refused link).
func decodeSource(r *fields, i int) *Source {
	v, ok := r.present(i, "source", false)
	if !ok {
		return nil
	}
	code, f, err := composite(v)
	if err == nil && code != CodeSource {
		err = fmt.Errorf("has descriptor 0x%x; expected a source (0x28)", code)
	}
	if err != nil {
		r.fail(i, "source", "%v", err)
		return nil
	}
	t := fields{what: "source", f: f}
	s := &Source{
		Address:      t.str(0, "address", false),
		Durable:      t.uint32(1, "durable", 0),
		ExpiryPolicy: t.symbol(2, "expiry-policy", ExpirySessionEnd, false),
		Timeout:      t.uint32(3, "timeout", 0),
		Dynamic:      t.bool(4, "dynamic"),
		Filter:       t.mapv(7, "filter"),
		Capabilities: t.symbols(10, "capabilities"),
	}
	if t.err != nil {
		r.fail(i, "source", "is invalid: %v", t.err)
	}
	return s
}

func sourceValue(s *Source) any {
	if s == nil {
		return nil
	}
	return described(CodeSource, []any{
		optString(s.Address), nonZero(s.Durable), optSymbol(s.ExpiryPolicy), nonZero(s.Timeout),
		flag(s.Dynamic), nil, nil, optMap(s.Filter), nil, nil, optSymbols(s.Capabilities),
	})
}

func decodeTarget(r *fields, i int) *Target {
	v, ok := r.present(i, "target", false)
	if !ok {
		return nil
	}
	code, f, err := composite(v)
	if err == nil && code != CodeTarget {
		err = fmt.Errorf("has descriptor 0x%x; expected a target (0x29)", code)
	}
	if err != nil {
		r.fail(i, "target", "%v", err)
		return nil
	}
	t := fields{what: "target", f: f}
	s := &Target{
		Address:      t.str(0, "address", false),
		Durable:      t.uint32(1, "durable", 0),
		ExpiryPolicy: t.symbol(2, "expiry-policy", ExpirySessionEnd, false),
		Timeout:      t.uint32(3, "timeout", 0),
		Dynamic:      t.bool(4, "dynamic"),
		Capabilities: t.symbols(6, "capabilities"),
	}
	if t.err != nil {
		r.fail(i, "target", "is invalid: %v", t.err)
	}
	return s
}

func targetValue(s *Target) any {
	if s == nil {
		return nil
	}
	return described(CodeTarget, []any{
		optString(s.Address), nonZero(s.Durable), optSymbol(s.ExpiryPolicy), nonZero(s.Timeout),
		flag(s.Dynamic), nil, optSymbols(s.Capabilities),
	})
}
