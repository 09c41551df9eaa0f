package raftnet

import "go.etcd.io/raft/v3/raftpb"

// urgent reports whether a message type goes ahead of bulk traffic: elections and
// heartbeats must not wait behind megabytes of MsgApp, or a busy leader loses its followers
// and a candidate its election.
func urgent(t raftpb.MessageType) bool {
	switch t {
	case raftpb.MsgVote, raftpb.MsgVoteResp, raftpb.MsgPreVote, raftpb.MsgPreVoteResp,
		raftpb.MsgHeartbeat, raftpb.MsgHeartbeatResp, raftpb.MsgTimeoutNow:
		return true
	}
	return false
}

// queue is one peer's bounded send queue: two FIFO lanes, urgent before bulk. It is a plain
// value; the peer guards it with its mutex.
type queue struct {
	maxLen   int // messages per lane
	maxBytes int // payload bytes of the bulk lane

	urgent, bulk []item
	bulkBytes    int
}

// push appends it to its lane, or reports false when the lane is full (the message is
// dropped: raft retransmits what matters).
func (q *queue) push(it item, isUrgent bool) bool {
	if isUrgent {
		if len(q.urgent) >= q.maxLen {
			return false
		}
		q.urgent = append(q.urgent, it)
		return true
	}
	if len(q.bulk) >= q.maxLen || q.bulkBytes+len(it.data) > q.maxBytes {
		return false
	}
	q.bulk = append(q.bulk, it)
	q.bulkBytes += len(it.data)
	return true
}

// len is the number of queued messages.
func (q *queue) len() int { return len(q.urgent) + len(q.bulk) }

// take moves into out, urgent first, the oldest items that fit in a batch of at most
// maxBatch encoded bytes (at least one item if any is queued) and returns out.
func (q *queue) take(out []item, maxBatch int) []item {
	size := batchOverhead
	var n int
	out, n = takeLane(out, q.urgent, &size, maxBatch)
	q.urgent = shift(q.urgent, n)
	if len(q.urgent) > 0 {
		return out // the urgent lane alone filled the batch
	}
	out, n = takeLane(out, q.bulk, &size, maxBatch)
	for _, it := range q.bulk[:n] {
		q.bulkBytes -= len(it.data)
	}
	q.bulk = shift(q.bulk, n)
	return out
}

// takeLane appends the items of lane that fit, counting their bytes into *size, and returns
// how many it took. The first item of an empty batch is always taken.
func takeLane(out, lane []item, size *int, maxBatch int) ([]item, int) {
	n := 0
	for _, it := range lane {
		l := it.encodedLen()
		if len(out) > 0 && *size+l > maxBatch {
			break
		}
		*size += l
		out = append(out, it)
		n++
	}
	return out, n
}

// shift removes the first n items of lane, keeping its array when it empties and not
// holding on to removed data.
func shift(lane []item, n int) []item {
	if n == len(lane) {
		clear(lane)
		return lane[:0]
	}
	rest := copy(lane, lane[n:])
	clear(lane[rest:])
	return lane[:rest]
}
