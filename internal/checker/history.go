package checker

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind says what an operation was.
type Kind string

const (
	// KindSend is one record a producer sent: its value, partition, the producer's send
	// sequence number, and its outcome (with the acknowledged offset when ok).
	KindSend Kind = "send"
	// KindPoll is what one poll of a consumer returned: records at offsets, within an
	// assignment.
	KindPoll Kind = "poll"
	// KindCommit is one offset commit of a group for a partition that the broker acknowledged
	// (or a read of the committed offset, OffsetFetch): offsets a group commits never go back.
	KindCommit Kind = "commit"
	// KindFinal is the final read of one partition after healing: every record from Start to
	// End.
	KindFinal Kind = "final"
	// KindFault is one fault a nemesis injected: its name, when it started (Invoke) and when
	// it was healed (Time).
	KindFault Kind = "fault"
)

// Outcome is how a send ended.
type Outcome string

const (
	// OK: the broker acknowledged the record at Partition/Offset.
	OK Outcome = "ok"
	// Fail: the send definitely failed: the broker refused it before appending it (for
	// example NOT_ENOUGH_REPLICAS, MESSAGE_TOO_LARGE, an authorization error). Its value must
	// never be read.
	Fail Outcome = "fail"
	// Info: the outcome is unknown (a timeout, a cut connection): the record may or may not
	// have been appended.
	Info Outcome = "info"
)

// Record is a value at an offset of a partition, as a poll or the final read saw it.
type Record struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Value     string `json:"value"`
}

// Op is one operation of the history. Which fields matter depends on Kind.
type Op struct {
	Kind Kind `json:"kind"`
	// Process is who did it: a producer, a consumer or the nemesis ("p1", "plain", "group").
	// The operations of one process are appended in the order they happened.
	Process string `json:"process,omitempty"`
	// Invoke is when the operation started (a send's Produce call, a fault's injection).
	Invoke time.Time `json:"invoke,omitzero"`
	// Time is when it completed (a send's acknowledgement or error, a fault's heal).
	Time time.Time `json:"time,omitzero"`

	// Send: the value, the partition it was sent to, the producer's sequence number (send
	// order), the outcome, the acknowledged offset (OK only) and the error text.
	Value     string  `json:"value,omitempty"`
	Partition int32   `json:"partition"`
	Seq       int64   `json:"seq,omitempty"`
	Outcome   Outcome `json:"outcome,omitempty"`
	Offset    int64   `json:"offset"`
	Err       string  `json:"err,omitempty"`

	// Poll: the records returned and the assignment they were read under (a consumer's
	// assignment number, which changes at every rebalance or reset).
	Records    []Record `json:"records,omitempty"`
	Assignment int64    `json:"assignment,omitempty"`

	// Commit: the group; Partition and Offset are the committed offset. End, when set, is a
	// log end offset of the partition read after the commit was acknowledged: the commit may
	// not be above it.
	Group string `json:"group,omitempty"`
	End   *int64 `json:"end,omitempty"`

	// Final: Start and End bound the partition's log when it was read; Records are every
	// record in between. (End is the field above.)
	Start int64 `json:"start,omitempty"`

	// Fault: its name ("kill -9", "pause", "link cut").
	Fault string `json:"fault,omitempty"`
}

// Recorder collects a history from several goroutines.
type Recorder struct {
	mu  sync.Mutex
	ops []Op
}

// Add appends op to the history.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops is a copy of the history so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// WriteJSONL writes the history as JSON lines, one operation a line.
func WriteJSONL(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("checker: writing operation %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// maxLine is the longest history line ReadJSONL accepts (a poll of many records).
const maxLine = 64 << 20

// ReadJSONL reads a history written by WriteJSONL. Blank lines are skipped.
func ReadJSONL(r io.Reader) ([]Op, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var ops []Op
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return nil, fmt.Errorf("checker: history line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checker: reading history: %w", err)
	}
	return ops, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
