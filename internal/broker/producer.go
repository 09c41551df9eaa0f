package broker

import (
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// maxInflightBatches is how many recent batches per producer a partition remembers for
// de-duplication: Kafka clients keep at most five produce requests in flight per connection.
const maxInflightBatches = 5

// producerState is what a partition remembers of one idempotent producer. It is part of the
// partition's state: a single-node partition rebuilds it on open from its producer snapshot
// and the batch headers after it (prodsnap.go), or from every batch header without a usable
// snapshot; a replica keeps it in its checkpoint. A replica that applies the same batches
// reaches the same state.
type producerState struct {
	epoch  int16
	recent []seqEntry // oldest first, at most maxInflightBatches
}

type seqEntry struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	appendTime        int64
}

// producerCheck is the verdict on one incoming batch.
type producerCheck int

const (
	seqAppend    producerCheck = iota // new batch in sequence: append it
	seqDuplicate                      // batch already written: answer with its offset, append nothing
)

// check decides whether h may be appended. It does not modify state. dup holds the written
// batch's position when the verdict is seqDuplicate.
func (s *producerState) check(h batch.Header) (producerCheck, seqEntry, error) {
	last := h.BaseSequence + h.LastOffsetDelta
	if s == nil {
		if h.BaseSequence != 0 {
			return 0, seqEntry{}, errcode.New(errcode.OutOfOrderSequence,
				"producer %d is unknown to this partition and sent sequence %d; a new producer starts at 0",
				h.ProducerID, h.BaseSequence)
		}
		return seqAppend, seqEntry{}, nil
	}
	switch {
	case h.ProducerEpoch < s.epoch:
		return 0, seqEntry{}, errcode.New(errcode.InvalidProducerEpoch,
			"producer %d epoch %d is older than the current epoch %d; another instance has taken over",
			h.ProducerID, h.ProducerEpoch, s.epoch)
	case h.ProducerEpoch > s.epoch:
		if h.BaseSequence != 0 {
			return 0, seqEntry{}, errcode.New(errcode.OutOfOrderSequence,
				"producer %d started epoch %d at sequence %d; a new epoch starts at 0",
				h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return seqAppend, seqEntry{}, nil
	}
	for _, e := range s.recent {
		if e.firstSeq == h.BaseSequence && e.lastSeq == last {
			return seqDuplicate, e, nil
		}
	}
	if n := len(s.recent); n > 0 {
		want := s.recent[n-1].lastSeq + 1
		if want < 0 { // int32 wrap-around, as Kafka does
			want = 0
		}
		if h.BaseSequence != want {
			return 0, seqEntry{}, errcode.New(errcode.OutOfOrderSequence,
				"producer %d sent sequence %d but the partition expects %d", h.ProducerID, h.BaseSequence, want)
		}
	}
	return seqAppend, seqEntry{}, nil
}

// record remembers a written batch.
func (s *producerState) record(h batch.Header, base, appendTime int64) *producerState {
	if s == nil || h.ProducerEpoch != s.epoch {
		s = &producerState{epoch: h.ProducerEpoch}
	}
	s.recent = append(s.recent, seqEntry{
		firstSeq:   h.BaseSequence,
		lastSeq:    h.BaseSequence + h.LastOffsetDelta,
		baseOffset: base,
		appendTime: appendTime,
	})
	if len(s.recent) > maxInflightBatches {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	return s
}
