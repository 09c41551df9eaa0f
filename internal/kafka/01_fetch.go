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
// It returns the record bytes in the response; they live in *buf.
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
		n, errored := c.fillFetch(req, resp, parts, buf)
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
	}
}

// fillFetch reads every partition into resp and returns the bytes gathered, and whether any
// partition answered an error (which returns at once, as Kafka does).
func (c *conn) fillFetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, parts []fetchPart, bufp *[]byte) (int, bool) {
	budget := int(req.MaxBytes)
	if budget <= 0 {
		budget = 50 << 20
	}
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
		max := int(fp.max)
		if max > budget {
			max = budget
		}
		if total > 0 && max <= 0 {
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
