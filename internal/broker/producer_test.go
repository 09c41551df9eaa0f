package broker

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func hdr(pid int64, epoch int16, seq, n int32) batch.Header {
	return batch.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: n - 1, NumRecords: n}
}

// TestProducerSequences walks one idempotent producer through the cases a partition must
// tell apart: in sequence, duplicate of a recent batch, gap, old epoch, new epoch.
func TestProducerSequences(t *testing.T) {
	var s *producerState
	base := int64(0)
	write := func(h batch.Header) {
		t.Helper()
		v, _, err := s.check(h)
		if err != nil || v != seqAppend {
			t.Fatalf("batch seq %d: verdict %v err %v, want append", h.BaseSequence, v, err)
		}
		s = s.record(h, base, 1000+base)
		base += int64(h.NumRecords)
	}
	write(hdr(7, 0, 0, 3))  // offsets 0-2
	write(hdr(7, 0, 3, 2))  // offsets 3-4
	write(hdr(7, 0, 5, 10)) // offsets 5-14

	cases := []struct {
		name   string
		h      batch.Header
		want   producerCheck
		code   errcode.Code
		offset int64
	}{
		{"next in sequence", hdr(7, 0, 15, 1), seqAppend, "", 0},
		{"retry of the second batch", hdr(7, 0, 3, 2), seqDuplicate, "", 3},
		{"retry of the last batch", hdr(7, 0, 5, 10), seqDuplicate, "", 5},
		{"gap", hdr(7, 0, 17, 1), 0, errcode.OutOfOrderSequence, 0},
		{"old epoch", hdr(7, -1, 15, 1), 0, errcode.InvalidProducerEpoch, 0},
		{"new epoch from zero", hdr(7, 1, 0, 1), seqAppend, "", 0},
		{"new epoch not from zero", hdr(7, 1, 4, 1), 0, errcode.OutOfOrderSequence, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, dup, err := s.check(c.h)
			if c.code != "" {
				if !errcode.Is(err, c.code) {
					t.Fatalf("err = %v, want %s", err, c.code)
				}
				return
			}
			if err != nil || v != c.want {
				t.Fatalf("verdict %v err %v, want %v", v, err, c.want)
			}
			if v == seqDuplicate && dup.baseOffset != c.offset {
				t.Fatalf("duplicate answered offset %d, want %d", dup.baseOffset, c.offset)
			}
		})
	}
	// An unknown producer must start at sequence 0.
	var none *producerState
	if _, _, err := none.check(hdr(9, 0, 4, 1)); !errcode.Is(err, errcode.OutOfOrderSequence) {
		t.Fatalf("unknown producer at seq 4: %v", err)
	}
	// Only the last five batches are remembered.
	for i := 0; i < maxInflightBatches+2; i++ {
		write(hdr(7, 0, int32(base), 1))
	}
	if len(s.recent) != maxInflightBatches {
		t.Fatalf("remembers %d batches, want %d", len(s.recent), maxInflightBatches)
	}
}

// TestKeyPartitionMatchesKafka checks murmur2 against values Kafka's Java client computes
// (Utils.murmur2), so Kafka and HTTP producers put a key in the same partition.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	cases := map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107}
	for key, want := range cases {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}
