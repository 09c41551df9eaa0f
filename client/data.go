package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/eventbody"
)

// Event is one event to send: a body, an optional partition key and application properties.
type Event struct {
	Body         []byte
	PartitionKey string
	Properties   map[string]string
}

// ReceivedEvent is an event with the system properties the broker stamped on it.
type ReceivedEvent struct {
	Event
	PartitionID    int32
	Offset         int64
	SequenceNumber int64
	EnqueuedTime   time.Time
}

// Placement says where a sent event landed.
type Placement struct {
	PartitionID    int32     `json:"partitionId"`
	Offset         int64     `json:"offset"`
	SequenceNumber int64     `json:"sequenceNumber"`
	EnqueuedTime   time.Time `json:"enqueuedTime"`
}

// SendOptions route a send. With no partition, each event goes to the partition its
// partition key hashes to (as Kafka's default partitioner), or round-robin without a key.
type SendOptions struct {
	PartitionID *int32
}

// Partition returns a pointer to id, for SendOptions.PartitionID.
func Partition(id int32) *int32 { return &id }

// Position is where a receive starts: Start, End, AtOffset, AtSequence or AtTime.
type Position struct{ s string }

// Start, End: the first retained event, and the next event to be written.
var (
	Start = Position{"start"}
	End   = Position{"end"}
)

// AtOffset is the event at offset n.
func AtOffset(n int64) Position { return Position{"offset:" + strconv.FormatInt(n, 10)} }

// AtSequence is the event with sequence number n (equal to its offset in Tandem).
func AtSequence(n int64) Position { return Position{"seq:" + strconv.FormatInt(n, 10)} }

// AtTime is the first event enqueued at or after t.
func AtTime(t time.Time) Position { return Position{"time:" + t.UTC().Format(time.RFC3339Nano)} }

// String is the position as the API and the CLI spell it.
func (p Position) String() string {
	if p.s == "" {
		return "start"
	}
	return p.s
}

// ParsePosition parses start, end, offset:N, seq:N or time:RFC3339.
func ParsePosition(s string) (Position, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch strings.ToLower(kind) {
	case "start", "earliest":
		if arg == "" {
			return Start, nil
		}
	case "end", "latest":
		if arg == "" {
			return End, nil
		}
	case "offset", "seq", "sequence":
		if n, err := strconv.ParseInt(arg, 10, 64); err == nil && n >= 0 {
			if strings.EqualFold(kind, "offset") {
				return AtOffset(n), nil
			}
			return AtSequence(n), nil
		}
	case "time":
		if t, err := time.Parse(time.RFC3339Nano, arg); err == nil {
			return AtTime(t), nil
		}
	}
	return Position{}, errcode.New(errcode.InvalidArgument,
		"position %q is invalid; use start, end, offset:N, seq:N or time:RFC3339 (like time:2024-05-01T12:00:00Z)", s)
}

// ReceiveOptions bound a receive.
type ReceiveOptions struct {
	From Position      // default Start
	Max  int           // events at most; 0 = the server's default (100)
	Wait time.Duration // how long to wait when no event is there; 0 = answer at once
}

// ReceiveResult is a page of events and the offset to continue from.
type ReceiveResult struct {
	Events     []ReceivedEvent
	NextOffset int64
}

// Checkpoint is a consumer group's stored position in one partition: the offset of the
// next event to read.
type Checkpoint struct {
	PartitionID int32     `json:"partitionId"`
	Offset      int64     `json:"offset"`
	Metadata    string    `json:"metadata,omitempty"`
	CommitTime  time.Time `json:"commitTime,omitzero"`
}

// eventWire is the JSON form of an event. A string body is its content; any other JSON
// value is its exact bytes; bodyEncoding "base64" marks bytes that are not UTF-8.
type eventWire struct {
	Body           json.RawMessage   `json:"body"`
	BodyEncoding   string            `json:"bodyEncoding,omitempty"`
	PartitionKey   string            `json:"partitionKey,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
	Offset         int64             `json:"offset,omitempty"`
	SequenceNumber int64             `json:"sequenceNumber,omitempty"`
	EnqueuedTime   time.Time         `json:"enqueuedTime,omitzero"`
	PartitionID    int32             `json:"partitionId,omitempty"`
}

func decodeBody(raw json.RawMessage, encoding string) ([]byte, error) {
	b, err := eventbody.Decode(raw, encoding)
	if err != nil {
		return nil, errcode.New(errcode.Internal, "event from the server: %v", err)
	}
	return b, nil
}

// Send sends events to ns/hub and returns where each landed, once they are durable.
func (c *Client) Send(ctx context.Context, ns, hub string, events []Event, o SendOptions) ([]Placement, error) {
	in := make([]eventWire, len(events))
	for i, e := range events {
		body, enc := eventbody.Encode(e.Body)
		in[i] = eventWire{Body: body, BodyEncoding: enc, PartitionKey: e.PartitionKey, Properties: e.Properties}
	}
	path := hubPath(ns, hub) + "/messages"
	if o.PartitionID != nil {
		path = hubPath(ns, hub) + "/partitions/" + strconv.Itoa(int(*o.PartitionID)) + "/messages"
	}
	var out struct {
		Events []Placement `json:"events"`
	}
	if err := c.do(ctx, http.MethodPost, path, in, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// Receive reads events of one partition of ns/hub from o.From.
func (c *Client) Receive(ctx context.Context, ns, hub string, partition int32, o ReceiveOptions) (ReceiveResult, error) {
	q := url.Values{"from": {o.From.String()}}
	if o.Max > 0 {
		q.Set("max", strconv.Itoa(o.Max))
	}
	if o.Wait > 0 {
		q.Set("wait", o.Wait.String())
	}
	path := hubPath(ns, hub) + "/partitions/" + strconv.Itoa(int(partition)) + "/messages?" + q.Encode()
	var out struct {
		Events     []eventWire `json:"events"`
		NextOffset int64       `json:"nextOffset"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return ReceiveResult{}, err
	}
	res := ReceiveResult{NextOffset: out.NextOffset, Events: make([]ReceivedEvent, len(out.Events))}
	for i, w := range out.Events {
		body, err := decodeBody(w.Body, w.BodyEncoding)
		if err != nil {
			return ReceiveResult{}, err
		}
		res.Events[i] = ReceivedEvent{
			Event:       Event{Body: body, PartitionKey: w.PartitionKey, Properties: w.Properties},
			PartitionID: w.PartitionID, Offset: w.Offset, SequenceNumber: w.SequenceNumber, EnqueuedTime: w.EnqueuedTime,
		}
	}
	return res, nil
}

// GetCheckpoints returns the checkpoints of consumer group group of ns/hub, by partition.
func (c *Client) GetCheckpoints(ctx context.Context, ns, hub, group string) ([]Checkpoint, error) {
	var out list[Checkpoint]
	if err := c.do(ctx, http.MethodGet, groupPath(ns, hub, group)+"/checkpoints", nil, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// GetCheckpoint returns one partition's checkpoint; a NotFound error when there is none yet.
func (c *Client) GetCheckpoint(ctx context.Context, ns, hub, group string, partition int32) (Checkpoint, error) {
	var out Checkpoint
	err := c.do(ctx, http.MethodGet, groupPath(ns, hub, group)+"/checkpoints/"+strconv.Itoa(int(partition)), nil, &out)
	return out, err
}

// SetCheckpoint stores offset (the next event to read) for one partition.
func (c *Client) SetCheckpoint(ctx context.Context, ns, hub, group string, partition int32, offset int64, metadata string) (Checkpoint, error) {
	in := map[string]any{"offset": offset, "metadata": metadata}
	var out Checkpoint
	err := c.do(ctx, http.MethodPut, groupPath(ns, hub, group)+"/checkpoints/"+strconv.Itoa(int(partition)), in, &out)
	return out, err
}
