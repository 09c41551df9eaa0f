package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// memNet connects multiraft hosts in one process: Send hands a copy of each message to the
// target host's Deliver, which only queues. A host that is not registered (killed) drops it.
type memNet struct {
	mu    sync.RWMutex
	hosts map[uint64]*multiraft.Host
}

func (n *memNet) Send(envs []multiraft.Envelope) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, e := range envs {
		if h := n.hosts[e.Msg.GetTo()]; h != nil {
			h.Deliver([]multiraft.Envelope{{Group: e.Group, Msg: proto.Clone(e.Msg).(*raftpb.Message)}})
		}
	}
}

func (n *memNet) set(id uint64, h *multiraft.Host) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h == nil {
		delete(n.hosts, id)
	} else {
		n.hosts[id] = h
	}
}

// kgoBatch encodes an idempotent producer's batch the way franz-go does (kmsg), CRC included.
func kgoBatch(pid int64, epoch int16, seq int32, n int, ts int64) []byte {
	var body []byte
	for i := range n {
		kr := kmsg.Record{OffsetDelta: int32(i), Key: fmt.Appendf(nil, "p%d", pid), Value: fmt.Appendf(nil, "seq %d", int(seq)+i)}
		rec := kr.AppendTo(nil) // with Length 0, which takes one byte
		kr.Length = int32(len(rec) - 1)
		body = kr.AppendTo(body)
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(n), Records: body,
	}
	rb.Length = int32(batch.HeaderSize - 12 + len(body))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

type raftNode struct {
	id    uint64
	dir   string
	store *multiraft.MemLogStore
	host  *multiraft.Host
	rp    *ReplicatedPartition
}

type partCluster struct {
	t     *testing.T
	net   *memNet
	peers []uint64
	nodes map[uint64]*raftNode
}

const testGroup = 1

func (c *partCluster) start(n *raftNode) {
	c.t.Helper()
	n.rp = openRP(c.t, n.dir, 16)
	h, err := multiraft.New(multiraft.Options{NodeID: n.id, LogStore: n.store, Transport: c.net,
		TickInterval: 10 * time.Millisecond, SnapshotEntries: -1})
	if err != nil {
		c.t.Fatal(err)
	}
	n.host = h
	c.net.set(n.id, h)
	if err := h.AddGroup(testGroup, c.peers, n.rp, false); err != nil {
		c.t.Fatal(err)
	}
}

// kill stops a node's host and closes its log without a final checkpoint, as a crash would.
func (c *partCluster) kill(n *raftNode) {
	c.t.Helper()
	c.net.set(n.id, nil)
	if err := n.host.Close(); err != nil {
		c.t.Fatal(err)
	}
	crash(c.t, n.rp)
	n.host = nil
}

func (c *partCluster) leader() *raftNode {
	c.t.Helper()
	var l *raftNode
	pollUntil(c.t, "a confirmed leader", func() bool {
		for _, n := range c.nodes {
			if n.host != nil && n.host.Confirmed(testGroup) {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// produce appends b through the current leader, retrying (the same bytes, so an idempotent
// producer's retry is de-duplicated) while leadership moves.
func (c *partCluster) produce(b []byte) AppendResult {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l := c.leader()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := l.rp.Append(ctx, l.host, testGroup, b, time.Now(), 1<<20)
		cancel()
		if err == nil {
			return res
		}
		var nl *multiraft.NotLeaderError
		retriable := errors.As(err, &nl) || errors.Is(err, multiraft.ErrLeadershipLost) ||
			errors.Is(err, multiraft.ErrProposalDropped) || errors.Is(err, multiraft.ErrClosed) ||
			errors.Is(err, context.DeadlineExceeded) || errcode.Is(err, errcode.Unavailable)
		if !retriable || time.Now().After(deadline) {
			c.t.Fatalf("append: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplicatedPartitionCluster: three replicas over multiraft take franz-go-encoded batches
// of idempotent producers through the leader while leadership is transferred and the leader
// killed and restarted; all replicas end with byte-identical segment files, gap-free offsets,
// the same epoch history, and every batch written exactly once at the offset its producer
// was told.
func TestReplicatedPartitionCluster(t *testing.T) {
	c := &partCluster{t: t, net: &memNet{hosts: map[uint64]*multiraft.Host{}}, peers: []uint64{1, 2, 3},
		nodes: map[uint64]*raftNode{}}
	for _, id := range c.peers {
		c.nodes[id] = &raftNode{id: id, dir: t.TempDir(), store: multiraft.NewMemLogStore()}
		c.start(c.nodes[id])
	}
	defer func() {
		for _, n := range c.nodes {
			if n.host != nil {
				n.host.Close()
				n.rp.Close()
			}
		}
	}()
	acked := map[seqKey]AppendResult{}
	seqs := map[int64]int32{}
	var plain []AppendResult
	round := func(n int) {
		for i := range n {
			pid := int64(1 + i%3)
			recs := 1 + i%4
			if i%5 == 4 { // a producer without idempotence: no retry de-duplication for it
				b := batch.Build([]batch.Record{{Value: []byte("plain")}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1})
				plain = append(plain, c.produce(b))
				continue
			}
			b := kgoBatch(pid, 0, seqs[pid], recs, time.Now().UnixMilli())
			res := c.produce(b)
			if res.LastOffset-res.BaseOffset != int64(recs-1) {
				t.Fatalf("batch of %d records landed at [%d, %d]", recs, res.BaseOffset, res.LastOffset)
			}
			acked[seqKey{pid, seqs[pid]}] = res
			seqs[pid] += int32(recs)
		}
	}
	round(20)
	first := c.leader()
	to := first.id%3 + 1
	if err := first.host.TransferLeader(testGroup, to); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the transfer", func() bool { return c.leader().id != first.id })
	round(20)
	victim := c.leader()
	c.kill(victim)
	pollUntil(t, "a new leader", func() bool { return c.leader().id != victim.id })
	round(20)
	c.start(victim) // recovers from its checkpoint and replays the raft log
	round(20)

	// Wait until every replica applied the same index.
	pollUntil(t, "all replicas to apply everything", func() bool {
		st, err := c.leader().host.Status(testGroup)
		if err != nil {
			return false
		}
		for _, n := range c.nodes {
			if n.rp.Applied() != st.Commit {
				return false
			}
		}
		return true
	})
	epochs := c.verify(acked, plain)
	t.Logf("%d idempotent and %d plain batches, epochs %v", len(acked), len(plain), epochs)
}

// seqKey is an idempotent producer's batch: producer id and base sequence.
type seqKey struct {
	pid int64
	seq int32
}

// verify stops every host and checks the replicas: identical segment files and epoch
// histories, gap-free offsets with their epochs, and every acknowledged batch in the log once,
// at the offset its producer was told. It returns the epoch history.
func (c *partCluster) verify(acked map[seqKey]AppendResult, plain []AppendResult) []EpochEntry {
	c.t.Helper()
	var digests []string
	var epochs [][]EpochEntry
	for _, id := range c.peers {
		n := c.nodes[id]
		if err := n.host.Close(); err != nil {
			c.t.Fatal(err)
		}
		n.host = nil
		hs := checkLog(c.t, n.rp)
		epochs = append(epochs, n.rp.Epochs())
		if err := n.rp.Close(); err != nil {
			c.t.Fatal(err)
		}
		digests = append(digests, segDigest(c.t, n.dir))
		// Every acknowledged batch is in the log exactly once, where its producer was told.
		written := map[seqKey]int64{}
		plainAt := map[int64]bool{}
		for _, h := range hs {
			if h.ProducerID < 0 {
				plainAt[h.BaseOffset] = true
				continue
			}
			k := seqKey{h.ProducerID, h.BaseSequence}
			if _, dup := written[k]; dup {
				c.t.Fatalf("node %d: producer %d sequence %d written twice", id, k.pid, k.seq)
			}
			written[k] = h.BaseOffset
		}
		for k, res := range acked {
			if off, ok := written[k]; !ok || off != res.BaseOffset {
				c.t.Fatalf("node %d: producer %d sequence %d acknowledged at %d, in the log at %d (%v)", id, k.pid, k.seq, res.BaseOffset, off, ok)
			}
		}
		for _, res := range plain {
			if !plainAt[res.BaseOffset] {
				c.t.Fatalf("node %d: plain batch acknowledged at %d is not there", id, res.BaseOffset)
			}
		}
		// A plain batch is written once per proposal that committed; retries may add some.
		if len(written) != len(acked) || len(plainAt) < len(plain) {
			c.t.Fatalf("node %d: %d+%d batches in the log, %d+%d acknowledged", id, len(written), len(plainAt), len(acked), len(plain))
		}
	}
	for i := 1; i < len(digests); i++ {
		if digests[i] != digests[0] {
			c.t.Fatalf("segment files differ between replicas: %v", digests)
		}
		if fmt.Sprint(epochs[i]) != fmt.Sprint(epochs[0]) {
			c.t.Fatalf("epoch histories differ: %v", epochs)
		}
	}
	if len(epochs[0]) < 3 {
		c.t.Fatalf("expected at least three leader epochs, got %v", epochs[0])
	}
	return epochs[0]
}
