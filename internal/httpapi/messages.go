package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/eventbody"
)

// Event bodies follow internal/eventbody, shared with the Go client.

// eventIn is one event of a send request.
type eventIn struct {
	Body         json.RawMessage            `json:"body"`
	BodyEncoding string                     `json:"bodyEncoding,omitempty"`
	PartitionKey string                     `json:"partitionKey,omitempty"`
	Properties   map[string]json.RawMessage `json:"properties,omitempty"`
}

// eventOut is one received event with its system properties.
type eventOut struct {
	Body           json.RawMessage   `json:"body"`
	BodyEncoding   string            `json:"bodyEncoding,omitempty"`
	PartitionKey   string            `json:"partitionKey,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
	Offset         int64             `json:"offset"`
	SequenceNumber int64             `json:"sequenceNumber"`
	EnqueuedTime   time.Time         `json:"enqueuedTime"`
	PartitionID    int32             `json:"partitionId"`
}

// placementJSON says where a sent event landed.
type placementJSON struct {
	PartitionID    int32     `json:"partitionId"`
	Offset         int64     `json:"offset"`
	SequenceNumber int64     `json:"sequenceNumber"`
	EnqueuedTime   time.Time `json:"enqueuedTime"`
}

// Receive limits.
const (
	defaultReceiveMax = 100
	maxReceiveMax     = 5000
	maxReceiveWait    = 5 * time.Minute
)

func (s *Server) send(w http.ResponseWriter, r *http.Request, c *call) error {
	h, err := s.b.Hub(c.ns, c.hub)
	if err != nil {
		return err
	}
	opts, err := sendPartition(r, h)
	if err != nil {
		return err
	}
	sc := getSendScratch()
	defer sc.release()
	var events []broker.Event
	switch {
	case opts.PartitionID != nil:
		if done, err := s.toLeader(w, r, h, *opts.PartitionID, nil); done {
			return err
		}
		events, err = s.readSendEvents(w, r, h, sc)
	case s.b.InCluster():
		// The events decide where the send goes: read the body once, to decode it here
		// or to forward it.
		var body []byte
		if body, err = readBody(w, r, s.limits.MaxSendBytes); err != nil {
			return err
		}
		var ok bool
		if events, ok = decodeEventsFast(body, h, s.limits.MaxSendEvents, sc); !ok {
			if events, err = decodeEvents(bytes.NewReader(body), h, s.limits.MaxSendEvents); err != nil {
				return err
			}
		}
		var done bool
		if opts.PartitionID, done, err = s.sendTarget(w, r, c, h, events, body); done {
			return err
		}
	default:
		events, err = s.readSendEvents(w, r, h, sc)
	}
	if err != nil {
		return err
	}
	res, err := s.b.Send(r.Context(), c.ns, c.hub, events, opts)
	if err != nil {
		return err
	}
	out := make([]placementJSON, len(res))
	for i, p := range res {
		out[i] = placementJSON{PartitionID: p.Partition, Offset: p.Offset, SequenceNumber: p.SequenceNumber, EnqueuedTime: p.EnqueuedTime}
	}
	writePlacements(w, out, sc)
	return nil
}

// sendPartition reads the target partition from the path or ?partitionId=.
func sendPartition(r *http.Request, h broker.HubInfo) (broker.SendOptions, error) {
	path, query := r.PathValue("partition"), r.URL.Query().Get("partitionId")
	if path != "" && query != "" && path != query {
		return broker.SendOptions{}, errcode.New(errcode.InvalidArgument,
			"the URL names partition %s and ?partitionId=%s; give one", path, clip(query))
	}
	if path == "" {
		path = query
	}
	if path == "" {
		return broker.SendOptions{}, nil
	}
	id, err := parsePartition(path, h)
	if err != nil {
		return broker.SendOptions{}, err
	}
	return broker.SendOptions{PartitionID: &id}, nil
}

// parsePartition parses a partition id of h, answering 404 for one that does not exist.
func parsePartition(s string, h broker.HubInfo) (int32, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 || int32(id) >= h.Partitions {
		return 0, errcode.New(errcode.PartitionNotFound,
			"partition %q does not exist in event hub %s/%s, which has partitions 0 to %d", clip(s), h.Namespace, h.Name, h.Partitions-1)
	}
	return int32(id), nil
}

// decodeEvents parses one event object or an array of them from body, event by event, and
// stops at the first event past maxEvents or larger than the hub allows, so a body of many
// tiny events is refused before it is held in memory.
func decodeEvents(body io.Reader, h broker.HubInfo, maxEvents int) ([]broker.Event, error) {
	br := bufio.NewReader(body)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields() // a field the send does not understand is refused, never dropped
	var out []broker.Event
	add := func(e eventIn) error {
		if len(out) >= maxEvents {
			return errcode.New(errcode.MessageTooLarge,
				"the request holds more than %d events, the limit of one send on this node; send them in several requests", maxEvents)
		}
		ev, err := decodeEvent(len(out), e, h)
		if err != nil {
			return err
		}
		out = append(out, ev)
		return nil
	}
	if first != '[' {
		var one eventIn
		if err := eventError(0, dec.Decode(&one)); err != nil {
			return nil, err
		}
		if err := add(one); err != nil {
			return nil, err
		}
		return out, jsonEnd(dec)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	for dec.More() {
		var e eventIn
		if err := eventError(len(out), dec.Decode(&e)); err != nil {
			return nil, err
		}
		if err := add(e); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	if len(out) == 0 {
		return nil, errcode.New(errcode.InvalidArgument, "the request holds no events; send at least one")
	}
	return out, jsonEnd(dec)
}

// sendFields are the fields of an event in a send (matched as encoding/json does, ignoring
// case).
const sendFields = "body, bodyEncoding, partitionKey and properties"

// eventError is jsonError for decoding event i, which names a field the send does not take.
func eventError(i int, err error) error {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	name, ok := strings.CutPrefix(msg, `json: unknown field "`)
	if !ok {
		return jsonError(err)
	}
	name = strings.TrimSuffix(name, `"`)
	return errcode.New(errcode.InvalidArgument, "event %d has the field %q, which a send does not take; %s; the fields of an event are %s",
		i, clip(name), unknownFieldHint(name), sendFields)
}

// unknownFieldHint says what to send instead of an unknown field.
func unknownFieldHint(name string) string {
	switch strings.ToLower(name) {
	case "brokerproperties":
		return "this API is not the Event Hubs REST format: give BrokerProperties.PartitionKey as partitionKey, " +
			"or send to one partition with /partitions/N/messages"
	case "userproperties":
		return "this API is not the Event Hubs REST format: give UserProperties as properties"
	case "offset", "sequencenumber", "enqueuedtime", "partitionid":
		return "the event hub sets it when it stores the event; drop it (choose a partition with /partitions/N/messages or ?partitionId=N)"
	case "key", "partition_key", "partition-key":
		return `the Kafka record key is partitionKey`
	case "headers", "applicationproperties", "application_properties":
		return "application properties go in properties"
	}
	return "remove it, or check its spelling"
}

// firstByte peeks at the first byte of br that is not JSON white space.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, errcode.New(errcode.InvalidArgument, `request body is empty; send {"body": …} or an array of such events`)
		}
		if err != nil {
			return 0, jsonError(err)
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

// jsonEnd checks that nothing but white space follows the decoded value.
func jsonEnd(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return errcode.New(errcode.InvalidArgument, "request body has data after its JSON value at byte offset %d", dec.InputOffset())
	}
	return nil
}

// decodeEvent turns event i of a send into a broker event, checking its size against h.
func decodeEvent(i int, e eventIn, h broker.HubInfo) (broker.Event, error) {
	body, err := eventBody(i, e)
	if err != nil {
		return broker.Event{}, err
	}
	if len(body) > int(h.MaxEventBytes) {
		return broker.Event{}, errcode.New(errcode.MessageTooLarge,
			"event %d has a body of %d bytes, more than the maximum event size of event hub %s/%s (%d bytes); send smaller events or raise the hub's maxEventBytes",
			i, len(body), h.Namespace, h.Name, h.MaxEventBytes)
	}
	return broker.Event{Body: body, PartitionKey: e.PartitionKey, Properties: properties(e.Properties)}, nil
}

func eventBody(i int, e eventIn) ([]byte, error) {
	b, err := eventbody.Decode(e.Body, e.BodyEncoding)
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "event %d: %s", i, clip(err.Error()))
	}
	return b, nil
}

// properties turns JSON property values into strings: a string keeps its content, any other
// value its JSON text.
func properties(in map[string]json.RawMessage) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else if string(v) != "null" {
			out[k] = string(v)
		}
	}
	return out
}

// receive streams up to max events (and DataLimits.MaxReceiveBytes of them after
// decompression) as {"events":[…],"nextOffset":N}, encoding each event as it is decoded.
// Waiting for a first event takes no slot; decoding and writing take one of
// DataLimits.MaxReceives.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, c *call) error {
	h, err := s.b.Hub(c.ns, c.hub)
	if err != nil {
		return err
	}
	id, err := parsePartition(r.PathValue("partition"), h)
	if err != nil {
		return err
	}
	if done, err := s.toLeader(w, r, h, id, nil); done {
		return err
	}
	q := r.URL.Query()
	from, err := ParsePosition(q.Get("from"))
	if err != nil {
		return err
	}
	max, wait, err := receiveLimits(q.Get("max"), q.Get("wait"))
	if err != nil {
		return err
	}
	offset, err := s.b.Await(r.Context(), c.ns, c.hub, id, from, wait)
	if err != nil {
		return err
	}
	release, err := s.receiveSlot(r.Context())
	if err != nil {
		return err
	}
	defer release()
	st := &eventStream{w: w}
	next, err := s.b.ReadEach(r.Context(), c.ns, c.hub, id, offset,
		broker.ReadLimits{Max: max, MaxBytes: s.limits.MaxReceiveBytes, MemoryWait: s.slotWait}, st.event)
	if err != nil && !st.started {
		return err
	}
	if err != nil {
		// The answer has begun; the client sees it cut off.
		s.log.Warn("receive ended early", "namespace", c.ns, "eventhub", c.hub, "partition", id, "err", err)
		return nil
	}
	st.finish(next)
	return nil
}

// receiveSlot takes one of the node's receive slots; release gives it back.
func (s *Server) receiveSlot(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(s.slotWait)
	defer t.Stop()
	select {
	case s.receives <- struct{}{}:
		return func() { <-s.receives }, nil
	case <-t.C:
		return nil, errcode.New(errcode.Unavailable,
			"%d receives are already being served, the limit of this node (--http-max-receives); retry shortly", cap(s.receives))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// eventStream writes a receive's answer one event at a time.
type eventStream struct {
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func (st *eventStream) start() error {
	st.started = true
	st.w.Header().Set("Content-Type", "application/json")
	st.w.WriteHeader(http.StatusOK)
	st.enc = json.NewEncoder(st.w)
	st.enc.SetEscapeHTML(false)
	_, err := io.WriteString(st.w, `{"events":[`)
	return err
}

func (st *eventStream) event(e broker.ReceivedEvent) error {
	sep := ","
	if !st.started {
		if err := st.start(); err != nil {
			return err
		}
		sep = ""
	}
	if _, err := io.WriteString(st.w, sep); err != nil {
		return err
	}
	body, enc := eventbody.Encode(e.Body)
	return st.enc.Encode(eventOut{Body: body, BodyEncoding: enc, PartitionKey: e.PartitionKey, Properties: e.Properties,
		Offset: e.Offset, SequenceNumber: e.SequenceNumber, EnqueuedTime: e.EnqueuedTime, PartitionID: e.Partition})
}

func (st *eventStream) finish(next int64) {
	if !st.started {
		st.start()
	}
	fmt.Fprintf(st.w, "],\"nextOffset\":%d}\n", next)
}

func receiveLimits(maxStr, waitStr string) (int, time.Duration, error) {
	max := defaultReceiveMax
	if maxStr != "" {
		n, err := strconv.Atoi(maxStr)
		if err != nil || n < 1 || n > maxReceiveMax {
			return 0, 0, errcode.New(errcode.InvalidArgument, "max=%q is invalid; use 1 to %d events", clip(maxStr), maxReceiveMax)
		}
		max = n
	}
	var wait time.Duration
	if waitStr != "" {
		d, err := time.ParseDuration(waitStr)
		if err != nil || d < 0 || d > maxReceiveWait {
			return 0, 0, errcode.New(errcode.InvalidArgument, "wait=%q is invalid; use a duration from 0s to %s, like 5s", clip(waitStr), maxReceiveWait)
		}
		wait = d
	}
	return max, wait, nil
}

// ParsePosition parses an event position: start, end, offset:N, seq:N or time:RFC3339.
// An empty string is start.
func ParsePosition(s string) (broker.Position, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch strings.ToLower(kind) {
	case "", "start", "earliest":
		if arg == "" {
			return broker.Position{Kind: broker.FromStart}, nil
		}
	case "end", "latest":
		if arg == "" {
			return broker.Position{Kind: broker.FromEnd}, nil
		}
	case "offset", "seq", "sequence":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err == nil && n >= 0 {
			k := broker.FromOffset
			if kind != "offset" {
				k = broker.FromSequence
			}
			return broker.Position{Kind: k, Offset: n}, nil
		}
	case "time":
		t, err := time.Parse(time.RFC3339Nano, arg)
		if err == nil {
			return broker.Position{Kind: broker.FromEnqueuedTime, Time: t}, nil
		}
	}
	return broker.Position{}, errcode.New(errcode.InvalidArgument,
		"position %q is invalid; use start, end, offset:N, seq:N or time:RFC3339 (like time:2024-05-01T12:00:00Z)", clip(s))
}

// partitionID resolves the request's {partition} path value against its hub.
func (s *Server) partitionID(r *http.Request, c *call) (int32, error) {
	h, err := s.b.Hub(c.ns, c.hub)
	if err != nil {
		return 0, err
	}
	return parsePartition(r.PathValue("partition"), h)
}
