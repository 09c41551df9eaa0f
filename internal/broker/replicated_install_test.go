package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// openRPOpts opens a replicated partition with small segments and the given retention and
// segment source.
func openRPOpts(t testing.TB, dir string, every int, retention int64, src SegmentSource) *ReplicatedPartition {
	t.Helper()
	rp, err := OpenReplicated(ReplicatedOptions{Namespace: "ns", Hub: "hub", CheckpointEvery: every,
		Group: testGroup, Segments: src,
		Log: seglog.Options{Dir: dir, SegmentBytes: 4096, RetentionBytes: retention, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// contentDigest hashes the batches of [from, to) as Read returns them.
func contentDigest(t testing.TB, rp *ReplicatedPartition, from, to int64) string {
	t.Helper()
	rc, err := rp.ReadRange(from, to)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// applyResult applies one entry carrying a registered proposal id and returns its outcome.
func applyResult(t testing.TB, rp *ReplicatedPartition, e multiraft.Entry, b []byte) (AppendResult, error) {
	t.Helper()
	id := rp.nextID.Add(1)
	slot := &proposalResult{}
	rp.resMu.Lock()
	rp.results[id] = slot
	rp.resMu.Unlock()
	e.Data = EncodeBatchEntry(b, 1_700_000_100_000, id)
	if err := rp.Apply([]multiraft.Entry{e}); err != nil {
		t.Fatal(err)
	}
	rp.resMu.Lock()
	defer rp.resMu.Unlock()
	delete(rp.results, id)
	if !slot.done {
		t.Fatal("no result for the entry")
	}
	return slot.res, slot.err
}

// TestReplicatedProducerStateAfterRetention: a producer writes a few batches, many plain
// batches follow, retention deletes the producer's batches on two of three replicas, those
// restart (one crashed, one cleanly); a retry of the producer's last batch is a duplicate with
// its original offsets on every replica, and all hold identical producer state.
func TestReplicatedProducerStateAfterRetention(t *testing.T) {
	const pid = 7
	var ents []multiraft.Entry
	var last []byte
	seq := int32(0)
	for i := range 5 {
		b := batch.Build([]batch.Record{{Value: []byte("a")}, {Value: []byte("b")}}, batch.BuildOptions{ProducerID: pid, BaseSequence: seq, Timestamp: int64(i)})
		seq += 2
		last = b
		ents = append(ents, multiraft.Entry{Index: uint64(len(ents) + 1), Term: 1, Data: EncodeBatchEntry(b, 1_700_000_000_000, 0)})
	}
	for range 200 {
		b := batch.Build([]batch.Record{{Value: bytes.Repeat([]byte("x"), 300)}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1})
		ents = append(ents, multiraft.Entry{Index: uint64(len(ents) + 1), Term: 1, Data: EncodeBatchEntry(b, 1_700_000_000_000, 0)})
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	rps := make([]*ReplicatedPartition, 3)
	for i, dir := range dirs {
		rps[i] = openRPOpts(t, dir, 50, 8192, nil)
		applyChunked(t, rps[i], ents, rand.New(rand.NewPCG(uint64(i), 1)))
	}
	for i := range 2 {
		if _, err := rps[i].ApplyRetention(); err != nil {
			t.Fatal(err)
		}
		if start := rps[i].p.StartOffset(); start <= 10 {
			t.Fatalf("replica %d: retention kept the producer's batches (log start %d)", i, start)
		}
	}
	crash(t, rps[0]) // a crash: the checkpoint of ApplyRetention is what it recovers from
	if err := rps[1].Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		rps[i] = openRPOpts(t, dirs[i], 50, 8192, nil)
		applyChunked(t, rps[i], ents, rand.New(rand.NewPCG(9, uint64(i)))) // the WAL replays what is missing
	}
	defer func() {
		for _, rp := range rps {
			rp.Close()
		}
	}()
	want := producersOf(rps[2])
	retry := multiraft.Entry{Index: uint64(len(ents) + 1), Term: 1}
	for i, rp := range rps {
		if got := producersOf(rp); !reflect.DeepEqual(got, want) {
			t.Fatalf("replica %d producer state %+v, replica 2 has %+v", i, got, want)
		}
		end := rp.p.EndOffset()
		res, err := applyResult(t, rp, retry, append([]byte(nil), last...))
		if err != nil || !res.Duplicate || res.BaseOffset != 8 || res.LastOffset != 9 {
			t.Fatalf("replica %d: the retry gave %+v, %v; want a duplicate at [8, 9]", i, res, err)
		}
		if rp.p.EndOffset() != end {
			t.Fatalf("replica %d: the retry was written", i)
		}
	}
	start := rps[0].p.StartOffset()
	for i, rp := range rps {
		if a, b := contentDigest(t, rp, start, rp.p.EndOffset()), contentDigest(t, rps[0], start, rps[0].p.EndOffset()); a != b {
			t.Fatalf("replica %d holds other bytes than replica 0", i)
		}
	}
}

// TestReplicaStateProducersRoundTrip: the producer section encodes deterministically and
// decodes to the same state.
func TestReplicaStateProducersRoundTrip(t *testing.T) {
	m := map[int64]*producerState{
		9: {epoch: 2, recent: []seqEntry{{0, 3, 10, 100}, {4, 4, 20, 101}}},
		3: {epoch: 0, recent: []seqEntry{{7, 9, 30, 102}}},
	}
	s := replicaState{index: 5, nextOffset: 40, lastAppendTime: 102, producers: producerRecords(m)}
	b := s.encode()
	for range 10 { // map order must not matter
		if again := (&replicaState{index: 5, nextOffset: 40, lastAppendTime: 102, producers: producerRecords(m)}).encode(); !bytes.Equal(again, b) {
			t.Fatal("the same producer state encoded differently")
		}
	}
	got, err := decodeReplicaState(b)
	if err != nil || !reflect.DeepEqual(got, s) || !reflect.DeepEqual(producerMap(got.producers), m) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

// partSource is the in-process SegmentSource: it serves from any registered replica that holds
// the range.
type partSource struct {
	mu      sync.Mutex
	parts   map[uint64]*ReplicatedPartition
	fetches atomic.Int64
	corrupt atomic.Bool // flip a byte in the next stream
}

func (s *partSource) set(id uint64, rp *ReplicatedPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp == nil {
		delete(s.parts, id)
	} else {
		s.parts[id] = rp
	}
}

func (s *partSource) Fetch(_ context.Context, group uint64, from, to int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if group != testGroup {
		return nil, fmt.Errorf("unknown group %d", group)
	}
	for _, rp := range s.parts {
		if rp.p.StartOffset() <= from && rp.p.EndOffset() >= to {
			s.fetches.Add(1)
			rc, err := rp.ReadRange(from, to)
			if err != nil || !s.corrupt.Swap(false) {
				return rc, err
			}
			b, err := io.ReadAll(rc)
			if err != nil {
				return nil, err
			}
			b[len(b)/2] ^= 1
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	return nil, errcode.New(errcode.Unavailable, "no replica holds offsets [%d, %d)", from, to)
}

func (c *partCluster) startShipping(n *raftNode, src *partSource, retention int64) {
	c.t.Helper()
	n.rp = openRPOpts(c.t, n.dir, 16, retention, src)
	h, err := multiraft.New(multiraft.Options{NodeID: n.id, LogStore: n.store, Transport: c.net,
		TickInterval: 10 * time.Millisecond, SnapshotEntries: 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatal(err)
	}
	n.host = h
	c.net.set(n.id, h)
	if err := h.AddGroup(testGroup, c.peers, n.rp, false); err != nil {
		c.t.Fatal(err)
	}
	src.set(n.id, n.rp)
}

// TestReplicatedSnapshotShipsSegments: three replicas over multiraft with raft snapshots every
// 10 entries (the raft log is compacted behind them). A follower is down while many batches
// commit; with "gap" the others also apply retention, so their logs start past the follower's
// end. The follower restarts, receives a snapshot, copies the batches from another replica and
// installs them; in the end every replica holds byte-identical batches over the range they
// share, identical producer state, and every acknowledged batch at its acknowledged offset.
func TestReplicatedSnapshotShipsSegments(t *testing.T) {
	for _, gap := range []bool{false, true} {
		t.Run(fmt.Sprintf("gap=%v", gap), func(t *testing.T) { testSnapshotShipping(t, gap) })
	}
}

func testSnapshotShipping(t *testing.T, gap bool) {
	retention := int64(0)
	if gap {
		retention = 8192
	}
	c := &partCluster{t: t, net: &memNet{hosts: map[uint64]*multiraft.Host{}}, peers: []uint64{1, 2, 3},
		nodes: map[uint64]*raftNode{}}
	src := &partSource{parts: map[uint64]*ReplicatedPartition{}}
	for _, id := range c.peers {
		c.nodes[id] = &raftNode{id: id, dir: t.TempDir(), store: multiraft.NewMemLogStore()}
		c.startShipping(c.nodes[id], src, retention)
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
	round := func(n int) {
		for i := range n {
			pid := int64(1 + i%3)
			b := kgoBatch(pid, 0, seqs[pid], 1+i%4, time.Now().UnixMilli())
			b = append(b[:0:0], b...)
			res := c.produce(b)
			acked[seqKey{pid, seqs[pid]}] = res
			seqs[pid] += int32(1 + i%4)
		}
	}
	round(20)
	var victim *raftNode
	for _, id := range c.peers {
		if n := c.nodes[id]; n != c.leader() {
			victim = n
			break
		}
	}
	src.set(victim.id, nil)
	c.kill(victim)
	round(150)
	if gap {
		for _, n := range c.nodes {
			if n != victim {
				if _, err := n.rp.ApplyRetention(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	round(25) // snapshots are taken after retention too
	victimEnd := openRPOpts(t, victim.dir, 16, retention, nil)
	oldEnd := victimEnd.p.EndOffset()
	victimEnd.Close()
	if start := c.leader().rp.p.StartOffset(); gap != (start > oldEnd) {
		t.Fatalf("the leader's log starts at %d, the stopped replica's ends at %d (gap %v)", start, oldEnd, gap)
	}
	src.corrupt.Store(true) // the first copy is corrupt: verified, refused, fetched again
	c.startShipping(victim, src, retention)
	round(20)
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
	if src.fetches.Load() < 2 {
		t.Fatalf("%d segment fetches: the restarted replica did not catch up through a snapshot", src.fetches.Load())
	}
	verifyShipped(t, c, acked, gap)
}

func verifyShipped(t *testing.T, c *partCluster, acked map[seqKey]AppendResult, gap bool) {
	start := int64(0)
	for _, n := range c.nodes {
		if err := n.host.Close(); err != nil {
			t.Fatal(err)
		}
		n.host = nil
		start = max(start, n.rp.p.StartOffset())
	}
	ref := c.nodes[c.peers[0]].rp
	end := ref.p.EndOffset()
	refDigest, refProducers := contentDigest(t, ref, start, end), producersOf(ref)
	for _, id := range c.peers {
		n := c.nodes[id]
		checkLog(t, n.rp)
		if n.rp.p.EndOffset() != end {
			t.Fatalf("node %d ends at %d, node %d at %d", id, n.rp.p.EndOffset(), c.peers[0], end)
		}
		if a, b := contentDigest(t, n.rp, start, end), refDigest; a != b {
			t.Fatalf("node %d holds other bytes in [%d, %d) than node %d", id, start, end, c.peers[0])
		}
		if a, b := producersOf(n.rp), refProducers; !reflect.DeepEqual(a, b) {
			t.Fatalf("node %d producer state %+v, node %d %+v", id, a, c.peers[0], b)
		}
		written := map[seqKey]int64{}
		_ = n.rp.p.log.ScanHeaders(start, func(h batch.Header) bool {
			written[seqKey{h.ProducerID, h.BaseSequence}] = h.BaseOffset
			return true
		})
		for k, res := range acked {
			if off, ok := written[k]; res.BaseOffset >= start && (!ok || off != res.BaseOffset) {
				t.Fatalf("node %d: producer %d sequence %d acknowledged at %d, in the log at %d (%v)", id, k.pid, k.seq, res.BaseOffset, off, ok)
			}
		}
		// The installed state survives a restart.
		applied := n.rp.Applied()
		if err := n.rp.Close(); err != nil {
			t.Fatal(err)
		}
		n.rp = openRPOpts(t, n.dir, 16, 0, nil)
		if n.rp.Applied() != applied || n.rp.p.EndOffset() != end {
			t.Fatalf("node %d reopened at index %d end %d, closed at %d end %d", id, n.rp.Applied(), n.rp.p.EndOffset(), applied, end)
		}
		n.rp.Close()
	}
	t.Logf("gap %v: %d batches acknowledged, common range [%d, %d)", gap, len(acked), start, end)
}

// stagedLeftovers lists the staging files in dir.
func stagedLeftovers(t testing.TB, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestReplicatedInstallCrash: a crash at each step of an install (after staging, after the
// rename into the log, after the checkpoint) leaves a replica that opens either at its old
// state or at the snapshot's, never in between; a refused copy changes nothing.
func TestReplicatedInstallCrash(t *testing.T) {
	ents := genEntries(11, 300)
	leaderDir := t.TempDir()
	leader := openRP(t, leaderDir, 1000)
	defer leader.Close()
	applyChunked(t, leader, ents, rand.New(rand.NewPCG(1, 1)))
	snap := snapOf(t, leader)
	src := &partSource{parts: map[uint64]*ReplicatedPartition{1: leader}}
	for _, tc := range []struct {
		name    string
		applied int // entries the follower applied before the snapshot
		gap     bool
	}{{"append", 100, false}, {"empty", 0, false}, {"gap", 100, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := openRPOpts(t, dir, 1000, 0, src)
			applyChunked(t, f, ents[:tc.applied], rand.New(rand.NewPCG(2, 2)))
			f.Checkpoint()
			oldEnd, oldApplied := f.p.EndOffset(), f.Applied()
			st, _ := decodeReplicaState(snap.GetData())
			if tc.gap {
				st.logStart = oldEnd + 5 // as if the leader's retention had moved past us
				for {
					var h batch.Header
					_ = leader.p.log.ScanHeaders(st.logStart, func(x batch.Header) bool { h = x; return false })
					if h.BaseOffset >= oldEnd+1 {
						st.logStart = h.BaseOffset
						break
					}
					st.logStart = h.NextOffset()
				}
			}
			snap := &raftpb.Snapshot{Data: st.encode(), Metadata: snap.GetMetadata()}
			// A corrupt copy is refused three times: nothing changes.
			src.corrupt.Store(true)
			failing := &corruptAlways{src}
			f.segments = failing
			if err := f.Restore(snap); err == nil || f.p.EndOffset() != oldEnd || f.Applied() != oldApplied || len(stagedLeftovers(t, dir)) != 0 {
				t.Fatalf("a corrupt copy: %v, end %d applied %d, leftovers %v", err, f.p.EndOffset(), f.Applied(), stagedLeftovers(t, dir))
			}
			src.corrupt.Store(false)
			f.segments = src
			// Crash after staging: the staged file is removed at open.
			if err := f.stage(max(oldEnd, st.logStart), st.nextOffset); err != nil {
				t.Fatal(err)
			}
			crash(t, f)
			f = openRPOpts(t, dir, 1000, 0, src)
			if f.p.EndOffset() != oldEnd || f.Applied() != oldApplied || len(stagedLeftovers(t, dir)) != 0 {
				t.Fatalf("after a crash with a staged copy: end %d applied %d, leftovers %v", f.p.EndOffset(), f.Applied(), stagedLeftovers(t, dir))
			}
			// Crash after the rename, before the checkpoint: the old state.
			from := max(oldEnd, st.logStart)
			if err := f.stage(from, st.nextOffset); err != nil {
				t.Fatal(err)
			}
			errCrash := errors.New("crash")
			if err := f.p.log.InstallSegment(from, func() error { return errCrash }); !errors.Is(err, errCrash) {
				t.Fatalf("install: %v", err)
			}
			crash(t, f)
			f = openRPOpts(t, dir, 1000, 0, src)
			if f.p.EndOffset() != oldEnd || f.Applied() != oldApplied {
				t.Fatalf("after a crash before the checkpoint: end %d applied %d, want %d %d", f.p.EndOffset(), f.Applied(), oldEnd, oldApplied)
			}
			checkLog(t, f)
			// The whole install; then a crash before the in-memory state: the new state.
			if err := f.Restore(snap); err != nil {
				t.Fatal(err)
			}
			crash(t, f)
			f = openRPOpts(t, dir, 1000, 0, src)
			defer f.Close()
			if f.p.EndOffset() != leader.p.EndOffset() || f.Applied() != leader.Applied() {
				t.Fatalf("after the install: end %d applied %d, want %d %d", f.p.EndOffset(), f.Applied(), leader.p.EndOffset(), leader.Applied())
			}
			if want := max(st.logStart, f.p.StartOffset()); tc.gap && f.p.StartOffset() != st.logStart {
				t.Fatalf("after a gap install the log starts at %d, want %d", f.p.StartOffset(), want)
			}
			checkLog(t, f)
			from = f.p.StartOffset()
			if a, b := contentDigest(t, f, from, f.p.EndOffset()), contentDigest(t, leader, from, leader.p.EndOffset()); a != b {
				t.Fatal("the installed batches differ from the leader's")
			}
			if a, b := producersOf(f), producersOf(leader); !reflect.DeepEqual(a, b) {
				t.Fatalf("producer state %+v, leader %+v", a, b)
			}
		})
	}
}

// corruptAlways corrupts every stream of its source.
type corruptAlways struct{ s *partSource }

func (c *corruptAlways) Fetch(ctx context.Context, group uint64, from, to int64) (io.ReadCloser, error) {
	c.s.corrupt.Store(true)
	return c.s.Fetch(ctx, group, from, to)
}
