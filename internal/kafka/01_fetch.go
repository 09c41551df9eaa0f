package kafka

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// Fetch: v4-12
//
// Returns whole stored batches from each requested offset (the client skips records before
// its offset inside the first batch), at least one batch per partition even above MaxBytes.
// Long poll: while fewer than MinBytes are ready the request waits for an append to any of
// its partitions, up to MaxWaitMillis. Fetch sessions are not kept: the response's
// SessionID is 0, which tells clients to send full requests. v13+ (topic ids) is not served.
//
// Memory: a response holds at most Options.FetchMaxBytes of records (Kafka's
// fetch.max.bytes) whatever MaxBytes and PartitionMaxBytes ask, and each read draws twice
// its bytes (the records, then their encoded copy) from the server's memory budget until
// the response is written. A fetch that finds the budget full waits for room at most until
// its MaxWait, then answers with what fits (possibly nothing); one whose connection already
// holds its share (Options.ConnMemoryShare) in unwritten answers reads nothing. As in Kafka, the first batch
// of a response is returned whole even when it is larger than the limit.

func init() { register(1, 4, 12) }

type fetchPart struct {
	part   *broker.Partition
	offset int64
	max    int32
	ti, pi int
}

func (c *conn) handleFetch(ctx context.Context, r *request, req *kmsg.FetchRequest) func() kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	b := c.s.opts.Broker
	aliasErr := b.CheckAliasActive(*c.principal) // alias clients must go to the active region
	ns := c.principal.Namespace
	var parts []fetchPart
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{}
			switch {
			case !c.principal.CanSee(rt.Topic):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !c.principal.Can(broker.RightListen, rt.Topic):
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case aliasErr != nil:
				sp.ErrorCode, _ = c.codeMsg(aliasErr)
			default:
				part, err := b.Partition(ns, rt.Topic, rp.Partition)
				if err == nil {
					err = b.CheckLeaderEpoch(ns, rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
				}
				if err != nil {
					sp.ErrorCode, _ = c.codeMsg(err)
					break
				}
				parts = append(parts, fetchPart{part, rp.FetchOffset, rp.PartitionMaxBytes, len(resp.Topics), len(st.Partitions)})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return func() kmsg.Response {
		bufp := fetchBufs.Get().(*[]byte)
		n := c.fetchWait(ctx, req, resp, parts, bufp)
		r.sizeHint = n + 512*len(parts) + 1024
		r.respHeld = 2 * int64(n)
		r.release = func() {
			if cap(*bufp) <= maxPooledFetchBuf {
				fetchBufs.Put(bufp)
			}
		}
		return resp
	}
}

// fetchBufs recycles the buffers fetch responses are read into: a response's record bytes
// live in one buffer from the read until the writer has encoded the response.
var fetchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// maxPooledFetchBuf bounds what goes back to the pool, so one huge fetch does not pin memory.
const maxPooledFetchBuf = 16 << 20

// fetchWait fills resp, waiting for appends until MinBytes are ready or MaxWait passes.
// It returns the record bytes in the response; they live in *buf, and twice their count is
// held in the memory budget.
func (c *conn) fetchWait(ctx context.Context, req *kmsg.FetchRequest, resp *kmsg.FetchResponse, parts []fetchPart, buf *[]byte) int {
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var timer *time.Timer
	for {
		// Take the change channels before reading so no append between the read and the
		// wait is missed.
		chans := make([]<-chan struct{}, len(parts))
		for i, fp := range parts {
			chans[i] = fp.part.Changed()
		}
		n, errored := c.fillBudgeted(ctx, req, resp, parts, buf, deadline)
		if errored || n >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || len(parts) == 0 {
			return n
		}
		left := time.Until(deadline)
		if left <= 0 {
			return n
		}
		if timer == nil {
			timer = time.NewTimer(left)
			defer timer.Stop()
		}
		cases := make([]reflect.SelectCase, 0, len(chans)+2)
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		if i, _, _ := reflect.Select(cases); i < 2 {
			return n
		}
		c.releaseFetch(2 * int64(n)) // an append: read again
	}
}

// fetchLeast is the smallest share of the memory budget a fetch waits for.
const fetchLeast = 64 << 10

// fillBudgeted takes room in the memory budget and fills resp within it. It returns the
// record bytes read, of which twice are held in the budget when it returns.
func (c *conn) fillBudgeted(ctx context.Context, req *kmsg.FetchRequest, resp *kmsg.FetchResponse,
	parts []fetchPart, bufp *[]byte, deadline time.Time) (int, bool) {
	want := int64(c.s.opts.FetchMaxBytes)
	if req.MaxBytes > 0 {
		want = min(want, int64(req.MaxBytes))
	}
	var grant int64
	if unread(parts) {
		// The connection's share first, then the node's budget: a connection whose earlier
		// answers fill its share (a client that does not read them) reads nothing more.
		least := 2 * min(want, fetchLeast)
		if share := c.takeShare(2 * want); share < least {
			c.fetchHeld.Add(-share)
		} else {
			wait := min(c.s.opts.MemoryWait, max(time.Until(deadline), 10*time.Millisecond))
			grant, _ = c.s.budget.acquireUpTo(ctx, share, least, wait)
			c.fetchHeld.Add(grant - share)
		}
	}
	n, errored := c.fillFetch(resp, parts, bufp, int(grant/2))
	if used := 2 * int64(n); used > grant {
		c.s.budget.force(used - grant) // a first batch larger than the grant
		c.fetchHeld.Add(used - grant)
	} else {
		c.releaseFetch(grant - used)
	}
	return n, errored
}

// takeShare takes up to want bytes of the connection's share of the memory budget
// (Options.ConnMemoryShare) into fetchHeld and returns them; 0 when the share is used up.
func (c *conn) takeShare(want int64) int64 {
	for {
		held := c.fetchHeld.Load()
		got := min(want, c.s.opts.ConnMemoryShare-held)
		if got <= 0 {
			return 0
		}
		if c.fetchHeld.CompareAndSwap(held, held+got) {
			return got
		}
	}
}

// releaseFetch gives n bytes held by a fetch response back to the budget and the share.
func (c *conn) releaseFetch(n int64) {
	c.fetchHeld.Add(-n)
	c.s.budget.release(n)
}

// unread reports whether any partition may have records past the fetch offset.
func unread(parts []fetchPart) bool {
	for _, fp := range parts {
		if fp.offset != fp.part.EndOffset() {
			return true
		}
	}
	return false
}

// fillFetch reads every partition into resp, up to limit record bytes, and returns the
// bytes gathered, and whether any partition answered an error (which returns at once, as
// Kafka does). With limit 0 it reads nothing and only fills in the offsets.
func (c *conn) fillFetch(resp *kmsg.FetchResponse, parts []fetchPart, bufp *[]byte, limit int) (int, bool) {
	budget := limit
	total, errored := 0, false
	buf := (*bufp)[:0]
	defer func() { *bufp = buf }()
	for _, fp := range parts {
		sp := &resp.Topics[fp.ti].Partitions[fp.pi]
		sp.HighWatermark = fp.part.EndOffset()
		sp.LastStableOffset = sp.HighWatermark
		sp.LogStartOffset = fp.part.StartOffset()
		sp.RecordBatches = []byte{} // never null: librdkafka rejects a null record set
		sp.ErrorCode = 0
		max := min(int(fp.max), budget)
		if limit <= 0 || total > 0 && max <= 0 {
			continue
		}
		out, err := c.s.opts.Broker.Read(buf, fp.part, fp.offset, max)
		if err != nil {
			sp.ErrorCode, _ = c.codeMsg(err)
			errored = true
			continue
		}
		recs := out[len(buf):]
		buf = out
		if len(recs) > 0 {
			sp.RecordBatches = recs
		}
		total += len(recs)
		budget -= len(recs)
	}
	return total, errored
}
