package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

func openRP(t testing.TB, dir string, every int) *ReplicatedPartition {
	t.Helper()
	rp, err := OpenReplicated(ReplicatedOptions{Namespace: "ns", Hub: "hub", ID: 0, CheckpointEvery: every,
		Log: seglog.Options{Dir: dir, SegmentBytes: 4096, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// crash closes the segment log without the final checkpoint.
func crash(t testing.TB, rp *ReplicatedPartition) {
	t.Helper()
	if err := rp.p.close(); err != nil {
		t.Fatal(err)
	}
}

// segDigest hashes the segment files (names and bytes) of dir.
func segDigest(t testing.TB, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkLog checks that offsets are gap-free from the log start and that every batch carries
// the epoch the history gives its base offset; it returns the batch headers.
func checkLog(t testing.TB, rp *ReplicatedPartition) []batch.Header {
	t.Helper()
	var hs []batch.Header
	next := rp.p.StartOffset()
	epochs := rp.Epochs()
	err := rp.p.log.ScanHeaders(next, func(h batch.Header) bool {
		if h.BaseOffset != next {
			t.Errorf("batch at %d, expected %d: offsets have a gap", h.BaseOffset, next)
		}
		next = h.NextOffset()
		want := int32(-1)
		for _, e := range epochs {
			if e.StartOffset <= h.BaseOffset {
				want = e.Epoch
			}
		}
		if h.PartitionLeaderEpoch != want {
			t.Errorf("batch at %d has leader epoch %d, the history says %d", h.BaseOffset, h.PartitionLeaderEpoch, want)
		}
		hs = append(hs, h)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != rp.p.EndOffset() {
		t.Errorf("batches end at %d, log end %d", next, rp.p.EndOffset())
	}
	return hs
}

func producersOf(rp *ReplicatedPartition) map[int64]producerState {
	rp.p.mu.Lock()
	defer rp.p.mu.Unlock()
	out := map[int64]producerState{}
	for id, s := range rp.p.mu.producers {
		out[id] = *s
	}
	return out
}

// entryGen makes a random but plausible stream of committed entries: batches of several
// idempotent producers (in order, duplicates, sequence gaps, epoch bumps), plain batches,
// leader no-ops at term changes, conf changes and epoch-base commands.
type entryGen struct {
	rng   *rand.Rand
	index uint64
	term  uint64
	now   int64
	base  int32
	prods map[int64]*genProducer
}

type genProducer struct {
	epoch int16
	seq   int32
	sent  [][]byte // batches sent, for re-sends
}

func newEntryGen(seed uint64) *entryGen {
	g := &entryGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), term: 1, now: 1_700_000_000_000,
		prods: map[int64]*genProducer{}}
	for id := int64(1); id <= 3; id++ {
		g.prods[id] = &genProducer{}
	}
	return g
}

func (g *entryGen) records() []batch.Record {
	n := 1 + g.rng.IntN(4)
	recs := make([]batch.Record, n)
	for i := range recs {
		recs[i] = batch.Record{Key: []byte(fmt.Sprintf("k%d", g.rng.IntN(10))), Value: make([]byte, g.rng.IntN(200))}
	}
	return recs
}

func (g *entryGen) next() multiraft.Entry {
	g.index++
	g.now += int64(g.rng.IntN(150)) - 50 // a leader clock that sometimes goes back
	e := multiraft.Entry{Index: g.index, Term: g.term}
	id := g.rng.Uint64() // proposal ids nobody waits for
	switch x := g.rng.IntN(100); {
	case x < 5: // a new leader's empty entry
		g.term += 1 + uint64(g.rng.IntN(2))
		e.Term = g.term
	case x < 8:
		e.Kind = multiraft.EntryConfChange
	case x < 10:
		base := g.base + int32(g.rng.IntN(4)) - 1 // sometimes lower: refused
		if base >= g.base {
			g.base = base
		}
		e.Data = EncodeEpochBaseEntry(base, id)
	case x < 30:
		e.Data = EncodeBatchEntry(batch.Build(g.records(), batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: g.now}), g.now, id)
	default:
		pid := int64(1 + g.rng.IntN(3))
		p := g.prods[pid]
		switch y := g.rng.IntN(100); {
		case y < 15 && len(p.sent) > 0: // a retry of a recent batch
			e.Data = EncodeBatchEntry(p.sent[max(0, len(p.sent)-1-g.rng.IntN(6))], g.now, id)
			return e
		case y < 20: // a sequence gap: refused
			b := batch.Build(g.records(), batch.BuildOptions{ProducerID: pid, ProducerEpoch: p.epoch, BaseSequence: p.seq + 3, Timestamp: g.now})
			e.Data = EncodeBatchEntry(b, g.now, id)
			return e
		case y < 24: // a new producer epoch
			p.epoch++
			p.seq = 0
		}
		recs := g.records()
		b := batch.Build(recs, batch.BuildOptions{ProducerID: pid, ProducerEpoch: p.epoch, BaseSequence: p.seq, Timestamp: g.now})
		p.seq += int32(len(recs))
		p.sent = append(p.sent, b)
		e.Data = EncodeBatchEntry(b, g.now, id)
	}
	return e
}

func genEntries(seed uint64, n int) []multiraft.Entry {
	g := newEntryGen(seed)
	out := make([]multiraft.Entry, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

// applyChunked applies entries in random chunks (the host hands over what a Ready holds).
func applyChunked(t testing.TB, rp *ReplicatedPartition, ents []multiraft.Entry, rng *rand.Rand) {
	t.Helper()
	for len(ents) > 0 {
		n := min(len(ents), 1+rng.IntN(8))
		// The raft log keeps its bytes: apply must not write into them.
		before := make([][]byte, n)
		for i, e := range ents[:n] {
			before[i] = slices.Clone(e.Data)
		}
		if err := rp.Apply(ents[:n]); err != nil {
			t.Fatal(err)
		}
		for i, e := range ents[:n] {
			if string(before[i]) != string(e.Data) {
				t.Fatalf("apply modified the entry data of index %d", e.Index)
			}
		}
		ents = ents[n:]
	}
}

type rpState struct {
	Digest    string
	Applied   uint64
	End       int64
	Epochs    []EpochEntry
	Producers map[int64]producerState
	LastTime  int64
}

func stateOf(t testing.TB, rp *ReplicatedPartition, dir string) rpState {
	rp.mu.Lock()
	last := rp.mu.st.lastAppendTime
	rp.mu.Unlock()
	return rpState{Digest: segDigest(t, dir), Applied: rp.Applied(), End: rp.p.EndOffset(), Epochs: rp.Epochs(),
		Producers: producersOf(rp), LastTime: last}
}

// TestReplicatedApplyDeterministic feeds the same random entries, chunked differently and with
// different checkpoint intervals, to two fresh replicas: their segment files, producer state
// and epoch history must be identical.
func TestReplicatedApplyDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ents := genEntries(seed, 400)
			dirA, dirB := t.TempDir(), t.TempDir()
			a, b := openRP(t, dirA, 1000), openRP(t, dirB, 7)
			defer a.Close()
			defer b.Close()
			applyChunked(t, a, ents, rand.New(rand.NewPCG(seed, 1)))
			applyChunked(t, b, ents, rand.New(rand.NewPCG(seed, 2)))
			sa, sb := stateOf(t, a, dirA), stateOf(t, b, dirB)
			if !reflect.DeepEqual(sa, sb) {
				t.Fatalf("seed %d: replicas differ:\n%+v\n%+v", seed, sa, sb)
			}
			hs := checkLog(t, a)
			if len(hs) < 100 || sa.End < 200 || len(sa.Epochs) < 3 {
				t.Fatalf("seed %d: the stream wrote too little to prove anything: %d batches, end %d, epochs %v", seed, len(hs), sa.End, sa.Epochs)
			}
			seen := map[[2]int64]bool{} // (producer, base sequence) written
			for i, h := range hs {
				if i > 0 && h.MaxTimestamp < hs[i-1].MaxTimestamp {
					t.Fatalf("seed %d: append time went back at offset %d", seed, h.BaseOffset)
				}
				if h.ProducerID >= 0 {
					k := [2]int64{h.ProducerID, int64(h.ProducerEpoch)<<32 | int64(h.BaseSequence)}
					if seen[k] {
						t.Fatalf("seed %d: producer %d sequence %d written twice", seed, h.ProducerID, h.BaseSequence)
					}
					seen[k] = true
				}
			}
		})
	}
}

// TestReplicatedResults: the proposer's waiter gets its batch's result, duplicates report the
// original offsets, refused batches their error, and nothing is written for them.
func TestReplicatedResults(t *testing.T) {
	rp := openRP(t, t.TempDir(), 1000)
	defer rp.Close()
	b1 := batch.Build([]batch.Record{{Value: []byte("a")}, {Value: []byte("b")}}, batch.BuildOptions{ProducerID: 7, ProducerEpoch: 0, BaseSequence: 0, Timestamp: 5})
	gap := batch.Build([]batch.Record{{Value: []byte("c")}}, batch.BuildOptions{ProducerID: 7, ProducerEpoch: 0, BaseSequence: 9, Timestamp: 5})
	ids := []uint64{11, 12, 13, 14}
	for _, id := range ids {
		rp.results[id] = &proposalResult{}
	}
	ents := []multiraft.Entry{
		{Index: 1, Term: 2},
		{Index: 2, Term: 2, Data: EncodeBatchEntry(b1, 1000, 11)},
		{Index: 3, Term: 3, Data: EncodeBatchEntry(b1, 2000, 12)},
		{Index: 4, Term: 3, Data: EncodeBatchEntry(gap, 3000, 13)},
		{Index: 5, Term: 3, Data: EncodeBatchEntry(b1[:40], 3000, 14)},
	}
	if err := rp.Apply(ents); err != nil {
		t.Fatal(err)
	}
	r := func(id uint64) *proposalResult { return rp.results[id] }
	if s := r(11); !s.done || s.err != nil || s.res != (AppendResult{BaseOffset: 0, LastOffset: 1, AppendTime: 1000}) {
		t.Fatalf("first: %+v", s)
	}
	if s := r(12); !s.done || s.err != nil || s.res != (AppendResult{BaseOffset: 0, LastOffset: 1, AppendTime: 1000, Duplicate: true}) {
		t.Fatalf("duplicate: %+v", s)
	}
	if s := r(13); !s.done || s.err == nil || !strings.Contains(s.err.Error(), "expects 2") {
		t.Fatalf("gap: %+v", s)
	}
	if s := r(14); !s.done || s.err == nil {
		t.Fatalf("truncated batch: %+v", s)
	}
	if rp.p.EndOffset() != 2 || rp.Applied() != 5 {
		t.Fatalf("end %d applied %d", rp.p.EndOffset(), rp.Applied())
	}
	// An entry this node cannot read stops the group rather than being skipped.
	bad := EncodeBatchEntry(b1, 1, 0)
	bad[0] = 9
	if err := rp.Apply([]multiraft.Entry{{Index: 6, Term: 3, Data: bad}}); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("unknown version: %v", err)
	}
}

// TestReplicatedCrashRecovery: a replica applies, checkpoints, applies more and crashes before
// the next checkpoint (with a torn write at the end of its segment). Reopened, it is truncated
// back to the checkpoint, reports the checkpoint's index, and replaying the entries after it
// gives the same bytes as a replica that never crashed.
func TestReplicatedCrashRecovery(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ents := genEntries(seed+100, 300)
			rng := rand.New(rand.NewPCG(seed, 3))
			refDir := t.TempDir()
			ref := openRP(t, refDir, 1000)
			applyChunked(t, ref, ents, rng)
			want := stateOf(t, ref, refDir)
			ref.Close()

			dir := t.TempDir()
			rp := openRP(t, dir, 1<<20)
			k := 50 + rng.IntN(100)
			applyChunked(t, rp, ents[:k], rng)
			if err := rp.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			ckEnd := rp.p.EndOffset()
			applyChunked(t, rp, ents[k:k+60], rng)
			if rp.p.EndOffset() == ckEnd {
				t.Fatalf("seed %d: nothing written after the checkpoint", seed)
			}
			crash(t, rp)
			tearTail(t, dir)

			rp = openRP(t, dir, 1<<20)
			if rp.Applied() != uint64(k) || rp.p.EndOffset() != ckEnd {
				t.Fatalf("seed %d: reopened at applied %d end %d, want the checkpoint's %d and %d", seed, rp.Applied(), rp.p.EndOffset(), k, ckEnd)
			}
			// The host replays from the WAL: entries before Applied are skipped if re-delivered.
			applyChunked(t, rp, ents[k-5:], rng)
			got := stateOf(t, rp, dir)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: after crash and replay:\n%+v\nwant\n%+v", seed, got, want)
			}
			checkLog(t, rp)
			rp.Close()

			// A clean close checkpoints everything: reopening loses nothing.
			rp = openRP(t, dir, 1<<20)
			defer rp.Close()
			if got := stateOf(t, rp, dir); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: after a clean reopen:\n%+v\nwant\n%+v", seed, got, want)
			}
		})
	}
}

// tearTail appends half a batch of garbage to the newest segment, as a crash mid-write leaves.
func tearTail(t testing.TB, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var last string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			last = e.Name()
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, last), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 30)); err != nil {
		t.Fatal(err)
	}
}

func snapOf(t testing.TB, rp *ReplicatedPartition) *raftpb.Snapshot {
	t.Helper()
	data, err := rp.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(rp.Applied()), Term: proto.Uint64(1)}}
}

// TestReplicatedRestore: without segment shipping, a snapshot ahead of the local segment files
// is refused (and changes nothing); one that only moves past entries that wrote nothing is
// adopted; a replica whose log is past the snapshot reports divergence.
func TestReplicatedRestore(t *testing.T) {
	ents := genEntries(7, 120)
	rng := rand.New(rand.NewPCG(7, 7))
	leaderDir := t.TempDir()
	leader := openRP(t, leaderDir, 1000)
	defer leader.Close()
	applyChunked(t, leader, ents, rng)
	tail := []multiraft.Entry{{Index: 121, Term: 40}, {Index: 122, Term: 41, Kind: multiraft.EntryConfChange}}
	applyChunked(t, leader, tail, rng)
	snap := snapOf(t, leader)

	// An empty replica cannot take it.
	emptyDir := t.TempDir()
	empty := openRP(t, emptyDir, 1000)
	if err := empty.Restore(snap); !errors.Is(err, ErrSnapshotNeedsSegments) {
		t.Fatalf("restore onto an empty log: %v", err)
	}
	if empty.Applied() != 0 || empty.p.EndOffset() != 0 || len(empty.Epochs()) != 0 {
		t.Fatalf("a refused restore changed the replica: applied %d end %d", empty.Applied(), empty.p.EndOffset())
	}
	empty.Close()
	if empty = openRP(t, emptyDir, 1000); empty.Applied() != 0 {
		t.Fatalf("a refused restore was checkpointed: applied %d", empty.Applied())
	}
	empty.Close()

	// A replica that has every data entry takes it.
	dir := t.TempDir()
	behind := openRP(t, dir, 1000)
	applyChunked(t, behind, ents, rng)
	if err := behind.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got, want := stateOf(t, behind, dir), stateOf(t, leader, leaderDir); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restore:\n%+v\nwant\n%+v", got, want)
	}
	behind.Close()
	if behind = openRP(t, dir, 1000); behind.Applied() != 122 {
		t.Fatalf("restore not checkpointed: applied %d", behind.Applied())
	}
	defer behind.Close()

	// A snapshot older in offsets than the local log (the replicas disagree) is refused.
	old := &raftpb.Snapshot{Data: (&replicaState{index: 200, nextOffset: 1, lastAppendTime: -1}).encode(),
		Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(200), Term: proto.Uint64(50)}}
	if err := behind.Restore(old); err == nil || errors.Is(err, ErrSnapshotNeedsSegments) || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("restore of a diverged snapshot: %v", err)
	}
}

func TestEpochHistory(t *testing.T) {
	var h epochHistory
	h.assign(1, 0)
	h.assign(3, 10)
	h.assign(4, 25) // wrote nothing: replaced by 5 at the same offset
	h.assign(5, 25)
	h.assign(2, 30) // epochs never go back
	h.assign(5, 40) // same epoch: no change
	want := epochHistory{{1, 0}, {3, 10}, {5, 25}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("history %v, want %v", h, want)
	}
	const logEnd = 40
	cases := []struct {
		name      string
		requested int32
		end       int64
		epoch     int32
	}{
		{"undefined", -1, -1, -1},
		{"below every epoch", 0, 0, 0},
		{"first epoch ends where the next starts", 1, 10, 1},
		{"unknown epoch between two: the floor epoch", 2, 10, 1},
		{"middle epoch", 3, 25, 3},
		{"gap below the latest", 4, 25, 3},
		{"latest epoch ends at the log end", 5, logEnd, 5},
		{"above every epoch", 6, -1, -1},
	}
	for _, c := range cases {
		end, epoch := h.endOffsetFor(c.requested, logEnd)
		if end != c.end || epoch != c.epoch {
			t.Errorf("%s: endOffsetFor(%d) = (%d, %d), want (%d, %d)", c.name, c.requested, end, epoch, c.end, c.epoch)
		}
	}
	if end, epoch := (epochHistory{}).endOffsetFor(0, 5); end != -1 || epoch != -1 {
		t.Errorf("empty history: (%d, %d)", end, epoch)
	}
	h.trimBefore(12)
	if want := (epochHistory{{3, 12}, {5, 25}}); !reflect.DeepEqual(h, want) {
		t.Errorf("trimmed %v, want %v", h, want)
	}
}

// TestReplicatedEpochs: the epoch history apply builds (terms, no-ops, epoch base) answers
// OffsetForLeaderEpoch on the partition, and written batches carry their epoch.
func TestReplicatedEpochs(t *testing.T) {
	rp := openRP(t, t.TempDir(), 1000)
	defer rp.Close()
	one := func(v string) []byte {
		return batch.Build([]batch.Record{{Value: []byte(v)}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1})
	}
	ents := []multiraft.Entry{
		{Index: 1, Term: 1}, // epoch 1 at 0
		{Index: 2, Term: 1, Data: EncodeBatchEntry(one("a"), 1, 0)}, // offset 0
		{Index: 3, Term: 1, Data: EncodeBatchEntry(one("b"), 1, 0)}, // offset 1
		{Index: 4, Term: 2}, // epoch 2 at 2, wrote nothing
		{Index: 5, Term: 4}, // epoch 4 at 2 replaces it
		{Index: 6, Term: 4, Data: EncodeBatchEntry(one("c"), 1, 0)}, // offset 2
		{Index: 7, Term: 4, Data: EncodeEpochBaseEntry(100, 0)},     // epoch 104 at 3
		{Index: 8, Term: 4, Data: EncodeBatchEntry(one("d"), 1, 0)}, // offset 3
		{Index: 9, Term: 4, Data: EncodeEpochBaseEntry(50, 0)},      // refused: epochs never go back
		{Index: 10, Term: 5, Data: EncodeBatchEntry(one("e"), 1, 0)},
	}
	if err := rp.Apply(ents); err != nil {
		t.Fatal(err)
	}
	want := []EpochEntry{{1, 0}, {4, 2}, {104, 3}, {105, 4}}
	if got := rp.Epochs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	for _, c := range []struct {
		req   int32
		end   int64
		epoch int32
	}{{0, 0, 0}, {1, 2, 1}, {3, 2, 1}, {4, 3, 4}, {50, 3, 4}, {104, 4, 104}, {105, 5, 105}, {106, -1, -1}} {
		if end, epoch := rp.EpochEndOffset(c.req); end != c.end || epoch != c.epoch {
			t.Errorf("EpochEndOffset(%d) = (%d, %d), want (%d, %d)", c.req, end, epoch, c.end, c.epoch)
		}
	}
	checkLog(t, rp)
	if rp.LeaderEpoch() != 105 {
		t.Fatalf("leader epoch %d", rp.LeaderEpoch())
	}
}

func TestReplicaStateRoundTrip(t *testing.T) {
	s := replicaState{index: 9, term: 3, nextOffset: 100, logStart: 10, epochBase: 7, lastAppendTime: 123,
		epochs: epochHistory{{8, 10}, {9, 50}}}
	got, err := decodeReplicaState(s.encode())
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	b := s.encode()
	b[10] ^= 1
	if _, err := decodeReplicaState(b); err == nil {
		t.Fatal("a flipped bit was not detected")
	}
}

func FuzzDecodeReplicaState(f *testing.F) {
	f.Add((&replicaState{index: 1, nextOffset: 5, lastAppendTime: -1, epochs: epochHistory{{1, 0}}}).encode())
	f.Add([]byte("TRPS"))
	f.Add((&replicaState{index: 2, nextOffset: 50, lastAppendTime: 9, producers: []producerRecord{
		{pid: 1, st: producerState{epoch: 1, recent: []seqEntry{{0, 4, 10, 5}, {5, 5, 20, 6}}}}, {pid: 4, st: producerState{recent: []seqEntry{{0, 0, 49, 7}}}}}}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeReplicaState(b)
		if err != nil {
			return
		}
		if again, err := decodeReplicaState(s.encode()); err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoding changed the state: %+v %v", again, err)
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeBatchEntry([]byte("batch"), 5, 1))
	f.Add(EncodeEpochBaseEntry(3, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if again := encodeEntry(e.typ, e.appendTime, e.proposalID, e.body); string(again) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// directProposer commits every proposal at once on one replica (a single-voter group without
// raft), for the proposer-side checks.
type directProposer struct {
	rp    *ReplicatedPartition
	index uint64
	calls int
}

func (d *directProposer) Propose(_ context.Context, _ uint64, data []byte) (uint64, error) {
	d.calls++
	d.index++
	return d.index, d.rp.Apply([]multiraft.Entry{{Index: d.index, Term: 1, Data: data}})
}

// TestReplicatedAppend: the leader refuses a bad batch before proposing it, the proposer gets
// its result, and append times never go back even when the leader's clock does.
func TestReplicatedAppend(t *testing.T) {
	rp := openRP(t, t.TempDir(), 1000)
	defer rp.Close()
	d := &directProposer{rp: rp}
	ctx := context.Background()
	good := batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{ProducerID: 3, ProducerEpoch: 0, BaseSequence: 0, Timestamp: 1})
	corrupt := slices.Clone(good)
	corrupt[len(corrupt)-1] ^= 1
	big := batch.Build([]batch.Record{{Value: make([]byte, 2000)}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1})
	empty := batch.Build(nil, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1})
	for name, b := range map[string][]byte{"corrupt": corrupt, "too large": big, "empty": empty, "truncated": good[:len(good)-3]} {
		if _, err := rp.Append(ctx, d, 1, b, time.UnixMilli(5000), 1000); err == nil {
			t.Fatalf("%s batch accepted", name)
		}
	}
	if d.calls != 0 {
		t.Fatalf("invalid batches were proposed: %d", d.calls)
	}
	res, err := rp.Append(ctx, d, 1, good, time.UnixMilli(5000), 1000)
	if err != nil || res != (AppendResult{BaseOffset: 0, LastOffset: 0, AppendTime: 5000}) {
		t.Fatalf("append: %+v %v", res, err)
	}
	// The same batch again (a producer retry) reports the original; the clock went back.
	res, err = rp.Append(ctx, d, 1, good, time.UnixMilli(4000), 1000)
	if err != nil || res != (AppendResult{BaseOffset: 0, LastOffset: 0, AppendTime: 5000, Duplicate: true}) {
		t.Fatalf("retry: %+v %v", res, err)
	}
	next := batch.Build([]batch.Record{{Value: []byte("w")}}, batch.BuildOptions{ProducerID: 3, ProducerEpoch: 0, BaseSequence: 1, Timestamp: 1})
	res, err = rp.Append(ctx, d, 1, next, time.UnixMilli(3000), 1000)
	if err != nil || res.BaseOffset != 1 || res.AppendTime != 5000 {
		t.Fatalf("append with a clock that went back: %+v %v", res, err)
	}
	gap := batch.Build([]batch.Record{{Value: []byte("x")}}, batch.BuildOptions{ProducerID: 3, ProducerEpoch: 0, BaseSequence: 7, Timestamp: 1})
	if _, err := rp.Append(ctx, d, 1, gap, time.UnixMilli(6000), 1000); !errcode.Is(err, errcode.OutOfOrderSequence) {
		t.Fatalf("sequence gap: %v", err)
	}
	if len(rp.results) != 0 {
		t.Fatalf("%d results left behind", len(rp.results))
	}
}

func BenchmarkReplicatedApply(b *testing.B) {
	rp, err := OpenReplicated(ReplicatedOptions{Namespace: "ns", Hub: "hub", CheckpointEvery: 1024,
		Log: seglog.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	defer rp.Close()
	recs := make([]batch.Record, 16)
	for i := range recs {
		recs[i] = batch.Record{Value: make([]byte, 64)}
	}
	data := EncodeBatchEntry(batch.Build(recs, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: 1}), 1, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := rp.Apply([]multiraft.Entry{{Index: uint64(i + 1), Term: 1, Data: data}}); err != nil {
			b.Fatal(err)
		}
	}
}
