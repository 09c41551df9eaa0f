package broker

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// snapFixture is a single-node partition log in a directory, written with small segments so
// that it rolls (and snapshots) often.
type snapFixture struct {
	t       *testing.T
	dir     string
	batches int // batches appended so far
}

func (f *snapFixture) open(withSnapshots bool) *Partition {
	f.t.Helper()
	l, err := seglog.Open(seglog.Options{Dir: f.dir, SegmentBytes: 4096, Logger: quietLog})
	if err != nil {
		f.t.Fatal(err)
	}
	var snaps *producerSnapshots
	if withSnapshots {
		snaps = newProducerSnapshots(nil, f.dir, quietLog)
	}
	p, err := openPartitionWith("ns", "hub", 0, l, snaps)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// fill appends n batches of two records: idempotent producers 1-3 in a seeded random order
// (producer 3 moves to epoch 1 after 20 batches), and non-idempotent batches between them.
func (f *snapFixture) fill(p *Partition, rng *rand.Rand, n int, prods map[int64]*testProducer) {
	f.t.Helper()
	for range n {
		pid := int64(rng.IntN(4)) // 0: not idempotent
		opts := batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		if pid > 0 {
			pr := prods[pid]
			if pr == nil {
				pr = &testProducer{}
				prods[pid] = pr
			}
			if pid == 3 && pr.epoch == 0 && pr.seq >= 40 {
				pr.epoch, pr.seq = 1, 0
			}
			opts = batch.BuildOptions{ProducerID: pid, ProducerEpoch: pr.epoch, BaseSequence: pr.seq}
			pr.seq += 2
		}
		b := batch.Build([]batch.Record{{Value: []byte("a")}, {Value: []byte("b")}}, opts)
		if _, err := p.Apply(b, int64(1000+f.batches)); err != nil {
			f.t.Fatalf("batch %d (producer %d): %v", f.batches, pid, err)
		}
		f.batches++
	}
}

type testProducer struct {
	epoch int16
	seq   int32
}

// fullScanState is the producer state a full scan of the log in dir rebuilds: the reference
// every snapshot-based open must agree with.
func (f *snapFixture) fullScanState() []producerRecord {
	f.t.Helper()
	p := f.open(false)
	defer p.close()
	if p.replayed != f.batchesInLog(p) {
		f.t.Fatalf("full scan replayed %d headers of %d batches", p.replayed, f.batchesInLog(p))
	}
	return producerRecords(p.mu.producers)
}

func (f *snapFixture) batchesInLog(p *Partition) int {
	n := 0
	if err := p.log.ScanHeaders(p.log.StartOffset(), func(batch.Header) bool { n++; return true }); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// batchesFrom counts the batches at or after offset.
func batchesFrom(t *testing.T, p *Partition, offset int64) int {
	n := 0
	if err := p.log.ScanHeaders(offset, func(h batch.Header) bool {
		if h.BaseOffset >= offset {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPartitionOpenReplaysOnlyAfterSnapshot checks the open of a single-node partition with
// a producer snapshot: it replays a bounded number of batch headers (none after a clean close,
// those of the active segment after a crash) and rebuilds exactly the state a full scan does;
// a corrupt snapshot, one ahead of a log that lost its tail and one off a batch boundary are
// ignored for a full scan.
func TestPartitionOpenReplaysOnlyAfterSnapshot(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	f := &snapFixture{t: t, dir: t.TempDir()}
	seqs := map[int64]*testProducer{}
	p := f.open(true)
	f.fill(p, rng, 600, seqs)
	if p.log.ActiveBase() == 0 {
		t.Fatal("the log never rolled; the test needs several segments")
	}
	snapPath := filepath.Join(f.dir, ProducerSnapshotFile)

	// A crash: the log is closed without the snapshot at its end, so the last snapshot is the
	// one the last roll wrote, at the active segment's base.
	active := p.log.ActiveBase()
	want := batchesFrom(t, p, active)
	p.close()
	p = f.open(true)
	if p.replayed != want || p.replayed >= f.batches/4 {
		t.Fatalf("after a crash the open replayed %d headers; want the %d of the active segment (of %d batches)", p.replayed, want, f.batches)
	}
	if got, ref := producerRecords(p.mu.producers), f.fullScanState(); !reflect.DeepEqual(got, ref) {
		t.Fatalf("state from the roll snapshot differs from a full scan:\n got %+v\nwant %+v", got, ref)
	}

	// The reopened partition takes more appends (producers continue their sequences) and
	// closes cleanly: the next open replays nothing.
	f.fill(p, rng, 100, seqs)
	if err := p.closeWithSnapshot(); err != nil {
		t.Fatal(err)
	}
	p = f.open(true)
	if p.replayed != 0 {
		t.Fatalf("after a clean close the open replayed %d headers, want 0", p.replayed)
	}
	ref := f.fullScanState()
	if got := producerRecords(p.mu.producers); !reflect.DeepEqual(got, ref) {
		t.Fatalf("state from the close snapshot differs from a full scan:\n got %+v\nwant %+v", got, ref)
	}
	// A retried batch is still recognised as a duplicate after the snapshot-based open.
	last := p.mu.producers[1].recent[len(p.mu.producers[1].recent)-1]
	dup := batch.Build([]batch.Record{{Value: []byte("a")}, {Value: []byte("b")}},
		batch.BuildOptions{ProducerID: 1, ProducerEpoch: p.mu.producers[1].epoch, BaseSequence: last.firstSeq})
	if res, err := p.Apply(dup, 1); err != nil || !res.Duplicate || res.BaseOffset != last.baseOffset {
		t.Fatalf("retry after reopen: %+v %v, want a duplicate at offset %d", res, err, last.baseOffset)
	}
	if err := p.closeWithSnapshot(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}

	full := f.batches
	for _, c := range []struct {
		name   string
		break_ func(t *testing.T)
	}{
		{"corrupt snapshot", func(t *testing.T) {
			bad := append([]byte(nil), good...)
			bad[len(bad)/2] ^= 0x40
			writeFile(t, snapPath, bad)
		}},
		{"truncated snapshot", func(t *testing.T) { writeFile(t, snapPath, good[:len(good)-3]) }},
		{"snapshot off a batch boundary", func(t *testing.T) {
			off, recs, err := decodeProducerSnapshot(good)
			if err != nil {
				t.Fatal(err)
			}
			// Every batch holds two records: off-1 is inside the last batch.
			writeFile(t, snapPath, encodeProducerSnapshot(off-1, trimRecords(recs, off-1)))
		}},
		{"snapshot ahead of the log", func(t *testing.T) {
			off, recs, err := decodeProducerSnapshot(good)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, snapPath, encodeProducerSnapshot(off+2, recs))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.break_(t)
			p := f.open(true)
			defer p.close()
			if p.replayed != full {
				t.Fatalf("the open replayed %d headers, want a full scan of %d", p.replayed, full)
			}
			if got := producerRecords(p.mu.producers); !reflect.DeepEqual(got, ref) {
				t.Fatalf("state differs from a full scan:\n got %+v\nwant %+v", got, ref)
			}
		})
	}

	// A log that lost its tail behind the snapshot (as a crash can leave it when the snapshot
	// was written at a close whose data a broken disk then lost): the snapshot is ahead of the
	// recovered end and must not be trusted.
	t.Run("log truncated behind the snapshot", func(t *testing.T) {
		writeFile(t, snapPath, good)
		p := f.open(false)
		cut := p.log.EndOffset() - 20
		if err := p.log.TruncateTo(cut); err != nil {
			t.Fatal(err)
		}
		p.close()
		ref := f.fullScanState()
		p = f.open(true)
		defer p.close()
		if p.replayed != full-10 {
			t.Fatalf("the open replayed %d headers, want a full scan of %d", p.replayed, full-10)
		}
		if got := producerRecords(p.mu.producers); !reflect.DeepEqual(got, ref) {
			t.Fatalf("state differs from a full scan of the truncated log:\n got %+v\nwant %+v", got, ref)
		}
	})
}

// trimRecords drops the batches at or after offset (keeping producers with at least one).
func trimRecords(recs []producerRecord, offset int64) []producerRecord {
	var out []producerRecord
	for _, r := range recs {
		var keep []seqEntry
		for _, e := range r.st.recent {
			if e.baseOffset < offset {
				keep = append(keep, e)
			}
		}
		if len(keep) > 0 {
			out = append(out, producerRecord{pid: r.pid, st: producerState{epoch: r.st.epoch, recent: keep}})
		}
	}
	return out
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestProducerSnapshotRoundTrip checks the encoding against decoding, and that every single
// flipped bit or truncation is refused.
func TestProducerSnapshotRoundTrip(t *testing.T) {
	recs := []producerRecord{
		{pid: 1, st: producerState{epoch: 0, recent: []seqEntry{{0, 1, 0, 1000}, {2, 3, 2, 1001}}}},
		{pid: 9, st: producerState{epoch: 3, recent: []seqEntry{{0, 0, 4, 1002}}}},
	}
	b := encodeProducerSnapshot(5, recs)
	off, got, err := decodeProducerSnapshot(b)
	if err != nil || off != 5 || !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip: %d %+v %v", off, got, err)
	}
	for i := range len(b) * 8 {
		bad := append([]byte(nil), b...)
		bad[i/8] ^= 1 << (i % 8)
		if _, _, err := decodeProducerSnapshot(bad); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
	for n := range len(b) {
		if _, _, err := decodeProducerSnapshot(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	if _, _, err := decodeProducerSnapshot(encodeProducerSnapshot(4, recs)); err == nil {
		t.Fatal("a snapshot at 4 holding a batch at offset 4 was accepted")
	}
}

func FuzzDecodeProducerSnapshot(f *testing.F) {
	f.Add(encodeProducerSnapshot(5, []producerRecord{{pid: 1, st: producerState{recent: []seqEntry{{0, 1, 0, 1000}}}}}))
	f.Add(encodeProducerSnapshot(0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, recs, err := decodeProducerSnapshot(b)
		if err != nil {
			return
		}
		if again := encodeProducerSnapshot(off, recs); string(again) != string(b) {
			t.Fatalf("decoded snapshot encodes to other bytes")
		}
	})
}
