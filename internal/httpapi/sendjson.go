package httpapi

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// The send path's fast JSON (issue 17: encoding/json made an HTTP send cost many times the CPU
// per event of a Kafka produce). decodeEventsFast parses the common shape of a send body in
// one pass without reflection; anything else — another shape, a property, a body that is not
// a plain string, any error — it declines, and decodeEvents, the encoding/json decoder, does
// the work. So every error a client sees is decodeEvents' own, word for word; the fuzz test
// checks that whatever the fast decoder accepts, decodeEvents decodes to the same events.

// fastSendMax is the largest body (by Content-Length) read whole for the fast decoder; larger
// bodies stream through decodeEvents, which refuses them event by event.
const fastSendMax = 4 << 20

// sendScratch is the memory of one send request that the fast path reuses across requests:
// the body, the arena the event bodies are copied into, the events and the answer. Nothing
// holds any of it once the send has answered (the broker copies the events into a batch).
type sendScratch struct {
	body, arena, answer []byte
	events              []broker.Event
}

var sendScratches = sync.Pool{New: func() any { return new(sendScratch) }}

func getSendScratch() *sendScratch { return sendScratches.Get().(*sendScratch) }

// release returns sc to the pool; nothing may use what it held afterwards.
func (sc *sendScratch) release() {
	clear(sc.events) // no body or key kept alive by the pool
	sc.body, sc.arena, sc.answer, sc.events = sc.body[:0], sc.arena[:0], sc.answer[:0], sc.events[:0]
	sendScratches.Put(sc)
}

// readSendEvents decodes the events of a send request's body; the fast path's events live in
// sc.
func (s *Server) readSendEvents(w http.ResponseWriter, r *http.Request, h broker.HubInfo, sc *sendScratch) ([]broker.Event, error) {
	body := http.MaxBytesReader(w, r.Body, s.limits.MaxSendBytes)
	n := r.ContentLength
	if n < 0 || n > fastSendMax {
		return decodeEvents(body, h, s.limits.MaxSendEvents)
	}
	buf, err := readAllInto(sc.body[:0], body)
	sc.body = buf
	if err == nil {
		if events, ok := decodeEventsFast(buf, h, s.limits.MaxSendEvents, sc); ok {
			return events, nil
		}
	}
	// The slow decoder reads the same bytes, then the same read error: it answers as it
	// would have streaming the body.
	return decodeEvents(io.MultiReader(bytes.NewReader(buf), errReader{err}), h, s.limits.MaxSendEvents)
}

// readAllInto appends what rd holds to buf.
func readAllInto(buf []byte, rd io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// errReader returns err (EOF when nil) on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// fastScan is a cursor over a send body. Event bodies are copied into arena, one buffer for
// the whole request (a decoded body is never longer than its JSON), and an event's partition
// key that repeats the one before shares its string.
type fastScan struct {
	b       []byte
	i       int
	arena   []byte
	lastKey string
}

func (p *fastScan) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat skips white space and then c; false when c is not next.
func (p *fastScan) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainString reads a JSON string without escapes or control characters and valid UTF-8
// (what encoding/json decodes to the same bytes); false for anything else.
func (p *fastScan) plainString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return nil, false
}

// decodeEventsFast decodes body when it is one event object, or a non-empty array of them,
// whose members are "body" (a plain string), "bodyEncoding" ("" or base64) and
// "partitionKey" (a plain string), each at most once, with every event within the hub's
// maximum size and at most maxEvents events. ok is false for any other body, valid or not:
// a field it does not know (BrokerProperties, a typo) is declined, and decodeEvents refuses
// it by name.
func decodeEventsFast(body []byte, h broker.HubInfo, maxEvents int, sc *sendScratch) (events []broker.Event, ok bool) {
	if cap(sc.arena) < len(body) {
		sc.arena = make([]byte, 0, len(body))
	}
	p := &fastScan{b: body, arena: sc.arena[:0]}
	events = sc.events[:0]
	defer func() {
		if cap(events) > cap(sc.events) {
			sc.events = events[:0] // keep the larger slice for the next request
		}
	}()
	p.ws()
	if p.i == len(p.b) {
		return nil, false
	}
	if p.b[p.i] != '[' {
		ev, ok := p.event(h)
		if !ok || maxEvents < 1 {
			return nil, false
		}
		events = append(events, ev)
	} else {
		p.i++
		for {
			if len(events) >= maxEvents {
				return nil, false
			}
			ev, ok := p.event(h)
			if !ok {
				return nil, false
			}
			events = append(events, ev)
			if p.eat(',') {
				continue
			}
			if p.eat(']') {
				break
			}
			return nil, false
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, false
	}
	return events, true
}

// event reads one event object.
func (p *fastScan) event(h broker.HubInfo) (broker.Event, bool) {
	if !p.eat('{') {
		return broker.Event{}, false
	}
	var raw, enc, key []byte
	var haveBody, haveEnc, haveKey, rawJSON bool
	for first := true; ; first = false {
		if first && p.eat('}') {
			break
		}
		name, ok := p.plainString()
		if !ok || !p.eat(':') {
			return broker.Event{}, false
		}
		var v []byte
		switch string(name) {
		case "body":
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == '"' {
				v, ok = p.plainString()
			} else {
				start := p.i
				ok = p.value(0)
				v, rawJSON = p.b[start:p.i], true
			}
			ok = ok && !haveBody
			raw, haveBody = v, true
		case "bodyEncoding":
			v, ok = p.plainString()
			ok = ok && !haveEnc
			enc, haveEnc = v, true
		case "partitionKey":
			v, ok = p.plainString()
			ok = ok && !haveKey
			key, haveKey = v, true
		default:
			ok = false
		}
		if !ok {
			return broker.Event{}, false
		}
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return broker.Event{}, false
	}
	if !haveBody {
		return broker.Event{}, false
	}
	start := len(p.arena)
	switch {
	case len(enc) == 0:
		p.arena = append(p.arena, raw...)
	case strings.ToLower(string(enc)) == "base64" && !rawJSON: // as eventbody.Decode compares
		dst := p.arena[start : start+base64.StdEncoding.DecodedLen(len(raw))]
		n, err := base64.StdEncoding.Decode(dst, raw)
		if err != nil {
			return broker.Event{}, false
		}
		p.arena = p.arena[:start+n]
	default:
		return broker.Event{}, false
	}
	b := p.arena[start:len(p.arena):len(p.arena)]
	if len(b) > int(h.MaxEventBytes) {
		return broker.Event{}, false
	}
	if string(key) != p.lastKey {
		p.lastKey = string(key)
	}
	return broker.Event{Body: b, PartitionKey: p.lastKey}, true
}

// writePlacements answers a send with where its events landed: the bytes writeJSON writes
// for {"events": out}, without reflection, built in sc.answer.
func writePlacements(w http.ResponseWriter, out []placementJSON, sc *sendScratch) {
	buf := append(sc.answer[:0], `{"events":[`...)
	defer func() { sc.answer = buf[:0] }()
	var lastT time.Time // the events of a batch share their enqueued time: format it once
	var lastS []byte
	for i, p := range out {
		if y := p.EnqueuedTime.Year(); y < 0 || y > 9999 {
			writeJSON(w, http.StatusCreated, map[string]any{"events": out}) // encoding/json's error
			return
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"partitionId":`...)
		buf = strconv.AppendInt(buf, int64(p.PartitionID), 10)
		buf = append(buf, `,"offset":`...)
		buf = strconv.AppendInt(buf, p.Offset, 10)
		buf = append(buf, `,"sequenceNumber":`...)
		buf = strconv.AppendInt(buf, p.SequenceNumber, 10)
		buf = append(buf, `,"enqueuedTime":"`...)
		if i == 0 || p.EnqueuedTime != lastT {
			lastT, lastS = p.EnqueuedTime, p.EnqueuedTime.AppendFormat(lastS[:0], time.RFC3339Nano)
		}
		buf = append(buf, lastS...)
		buf = append(buf, `"}`...)
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(buf)
}

// maxFastDepth bounds the nesting the fast decoder follows (encoding/json's own bound is
// deeper: a deeper body is declined, not refused).
const maxFastDepth = 100

// value skips one JSON value that is not a plain string at the top (an object, array,
// number, true, false or null; strings inside may hold escapes), checking its syntax as
// encoding/json's scanner does; false when it is not valid JSON or nests too deep.
func (p *fastScan) value(depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	p.ws()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		if p.eat('}') {
			return true
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' || !p.anyString() || !p.eat(':') || !p.value(depth+1) {
				return false
			}
			if p.eat(',') {
				continue
			}
			return p.eat('}')
		}
	case c == '[':
		p.i++
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if p.eat(',') {
				continue
			}
			return p.eat(']')
		}
	case c == '"':
		return p.anyString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

func (p *fastScan) literal(lit string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
		return false
	}
	p.i += len(lit)
	return true
}

// anyString skips a JSON string at p.i (its opening quote), escapes included.
func (p *fastScan) anyString() bool {
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+5 > len(p.b) {
					return false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !isHex(h) {
						return false
					}
				}
				p.i += 5
			default:
				return false
			}
		default:
			p.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *fastScan) number() bool {
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *fastScan) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
