package raftnet

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func TestUrgentTypes(t *testing.T) {
	for typ := range raftpb.MessageType_name {
		mt := raftpb.MessageType(typ)
		want := mt == raftpb.MsgVote || mt == raftpb.MsgVoteResp || mt == raftpb.MsgPreVote ||
			mt == raftpb.MsgPreVoteResp || mt == raftpb.MsgHeartbeat || mt == raftpb.MsgHeartbeatResp ||
			mt == raftpb.MsgTimeoutNow
		if urgent(mt) != want {
			t.Errorf("urgent(%v) = %v", mt, !want)
		}
	}
}

func TestQueue(t *testing.T) {
	it := func(g uint64, size int) item { return item{group: g, data: make([]byte, size)} }
	groups := func(items []item) []uint64 {
		var out []uint64
		for _, x := range items {
			out = append(out, x.group)
		}
		return out
	}
	type push struct {
		item   item
		urgent bool
		ok     bool
	}
	for _, tc := range []struct {
		name     string
		q        queue
		pushes   []push
		maxBatch int
		takes    [][]uint64 // groups of each successive take
	}{
		{
			name: "urgent first, each lane in order",
			q:    queue{maxLen: 10, maxBytes: 1000},
			pushes: []push{{it(1, 1), false, true}, {it(2, 1), false, true}, {it(3, 1), true, true},
				{it(4, 1), false, true}, {it(5, 1), true, true}},
			maxBatch: 1000,
			takes:    [][]uint64{{3, 5, 1, 2, 4}, nil},
		},
		{
			name:     "bulk lane full by count; urgent lane still takes",
			q:        queue{maxLen: 2, maxBytes: 1000},
			pushes:   []push{{it(1, 1), false, true}, {it(2, 1), false, true}, {it(3, 1), false, false}, {it(4, 1), true, true}},
			maxBatch: 1000,
			takes:    [][]uint64{{4, 1, 2}},
		},
		{
			name:     "bulk lane full by bytes",
			q:        queue{maxLen: 10, maxBytes: 100},
			pushes:   []push{{it(1, 60), false, true}, {it(2, 60), false, false}, {it(3, 40), false, true}, {it(4, 200), true, true}},
			maxBatch: 10000,
			takes:    [][]uint64{{4, 1, 3}},
		},
		{
			name:     "batches split at maxBatch, at least one item each",
			q:        queue{maxLen: 10, maxBytes: 10000},
			pushes:   []push{{it(1, 100), false, true}, {it(2, 100), false, true}, {it(3, 500), false, true}, {it(4, 10), true, true}},
			maxBatch: batchOverhead + 250,
			takes:    [][]uint64{{4, 1, 2}, {3}, nil},
		},
		{
			name:     "urgent lane alone fills a batch",
			q:        queue{maxLen: 10, maxBytes: 10000},
			pushes:   []push{{it(1, 10), false, true}, {it(2, 200), true, true}, {it(3, 200), true, true}},
			maxBatch: batchOverhead + 300,
			takes:    [][]uint64{{2}, {3, 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			for i, p := range tc.pushes {
				if ok := q.push(p.item, p.urgent); ok != p.ok {
					t.Fatalf("push %d = %v, want %v", i, ok, p.ok)
				}
			}
			for i, want := range tc.takes {
				got := groups(q.take(nil, tc.maxBatch))
				if len(got) != len(want) {
					t.Fatalf("take %d = %v, want %v", i, got, want)
				}
				for j := range got {
					if got[j] != want[j] {
						t.Fatalf("take %d = %v, want %v", i, got, want)
					}
				}
			}
			if q.len() != 0 && tc.takes[len(tc.takes)-1] == nil {
				t.Fatalf("%d left", q.len())
			}
			if q.bulkBytes != 0 && q.len() == 0 {
				t.Fatalf("bulkBytes = %d on an empty queue", q.bulkBytes)
			}
		})
	}
}
