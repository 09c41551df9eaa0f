package broker

// EpochEntry says that leader epoch Epoch wrote its first offset at StartOffset (Kafka's
// leader-epoch-checkpoint line).
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// UndefinedEpoch and UndefinedEpochOffset are OffsetForLeaderEpoch's "unknown" answer (Kafka's
// UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET).
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// epochHistory is a replicated partition's leader-epoch cache: epochs strictly increasing, start
// offsets non-decreasing. It is built by the apply step only, so every replica holds the same.
// Its rules are Kafka's LeaderEpochFileCache (KIP-101, KIP-279).
type epochHistory []EpochEntry

// assign records that epoch starts at offset start. An epoch at or below the latest is
// ignored (epochs never go back); entries that would break monotonicity (a start at or after
// start: epochs that wrote nothing) are dropped first, as Kafka does.
func (h *epochHistory) assign(epoch int32, start int64) {
	if epoch < 0 || start < 0 {
		return
	}
	if n := len(*h); n > 0 && epoch <= (*h)[n-1].Epoch {
		return
	}
	for n := len(*h); n > 0 && (*h)[n-1].StartOffset >= start; n-- {
		*h = (*h)[:n-1]
	}
	*h = append(*h, EpochEntry{Epoch: epoch, StartOffset: start})
}

// latest is the newest epoch, or UndefinedEpoch.
func (h epochHistory) latest() int32 {
	if len(h) == 0 {
		return UndefinedEpoch
	}
	return h[len(h)-1].Epoch
}

// endOffsetFor answers OffsetForLeaderEpoch for requested, given the log end offset: the end
// offset of the largest epoch <= requested and that epoch, as Kafka's
// LeaderEpochFileCache.endOffsetFor does:
//   - the latest epoch ends at the log end;
//   - an epoch above every known epoch, or an undefined one, is unknown (-1, -1);
//   - an epoch below every known epoch ends where the first known epoch starts, and is
//     returned as requested;
//   - otherwise the answer is the floor epoch and the start of the next higher epoch.
func (h epochHistory) endOffsetFor(requested int32, logEnd int64) (int64, int32) {
	if requested == UndefinedEpoch || len(h) == 0 {
		return UndefinedEpochOffset, UndefinedEpoch
	}
	if requested == h.latest() {
		return logEnd, requested
	}
	// higher: the first entry with Epoch > requested.
	hi := len(h)
	for i, e := range h {
		if e.Epoch > requested {
			hi = i
			break
		}
	}
	if hi == len(h) {
		return UndefinedEpochOffset, UndefinedEpoch
	}
	if hi == 0 {
		return h[0].StartOffset, requested
	}
	return h[hi].StartOffset, h[hi-1].Epoch
}

// trimBefore drops what retention removed below logStart: the epoch covering logStart keeps
// it as its start (Kafka's truncateFromStart).
func (h *epochHistory) trimBefore(logStart int64) {
	keep := 0
	for keep+1 < len(*h) && (*h)[keep+1].StartOffset <= logStart {
		keep++
	}
	*h = append((*h)[:0], (*h)[keep:]...)
	if len(*h) > 0 && (*h)[0].StartOffset < logStart {
		(*h)[0].StartOffset = logStart
	}
}
