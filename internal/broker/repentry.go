package broker

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// A replicated partition's raft entry payload (replication.md §3.3) is a small header followed
// by the Kafka v2 record batch verbatim (Data) or a Tandem command (Control):
//
//	version u8 | type u8 | appendTime i64 (Unix ms) | proposalID u64 | body
//
// All integers are big-endian. The leader chooses appendTime when it proposes; the proposal id
// only matches the leader's own proposals to their waiters.
const (
	entryVersion    = 1
	entryHeaderSize = 1 + 1 + 8 + 8
)

// EntryType is what a replicated partition entry carries.
type EntryType uint8

// Entry types. MirrorData (a geo secondary's verbatim batch) is to come.
const (
	EntryData    EntryType = 1
	EntryControl EntryType = 2
)

// Control commands (the first byte of a Control entry's body).
const (
	// ctlEpochBase: i32 new epoch base; epochs are epochBase + raft term (§3.5).
	ctlEpochBase = 1
)

// partEntry is a decoded entry payload. body aliases the payload.
type partEntry struct {
	typ        EntryType
	appendTime int64
	proposalID uint64
	body       []byte
}

func encodeEntry(typ EntryType, appendTime int64, proposalID uint64, body []byte) []byte {
	b := make([]byte, entryHeaderSize, entryHeaderSize+len(body))
	b[0], b[1] = entryVersion, byte(typ)
	binary.BigEndian.PutUint64(b[2:], uint64(appendTime))
	binary.BigEndian.PutUint64(b[10:], proposalID)
	return append(b, body...)
}

// EncodeBatchEntry is the raft entry payload that appends the v2 record batch b (copied) with
// the leader-chosen append time (Unix ms). proposalID lets the proposer find its result; 0 if
// it does not wait for one.
func EncodeBatchEntry(b []byte, appendTime int64, proposalID uint64) []byte {
	return encodeEntry(EntryData, appendTime, proposalID, b)
}

// EncodeEpochBaseEntry is the Control entry that sets the partition's epoch base (geo
// promotion moves it up so that leader epochs never go back).
func EncodeEpochBaseEntry(base int32, proposalID uint64) []byte {
	body := []byte{ctlEpochBase, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(body[1:], uint32(base))
	return encodeEntry(EntryControl, 0, proposalID, body)
}

func decodeEntry(b []byte) (partEntry, error) {
	if len(b) < entryHeaderSize {
		return partEntry{}, fmt.Errorf("partition entry of %d bytes is shorter than its %d-byte header", len(b), entryHeaderSize)
	}
	if b[0] != entryVersion {
		return partEntry{}, fmt.Errorf("partition entry has version %d; this node knows version %d (upgrade it)", b[0], entryVersion)
	}
	e := partEntry{
		typ:        EntryType(b[1]),
		appendTime: int64(binary.BigEndian.Uint64(b[2:])),
		proposalID: binary.BigEndian.Uint64(b[10:]),
		body:       b[entryHeaderSize:],
	}
	switch e.typ {
	case EntryData:
		if e.appendTime < 0 {
			return partEntry{}, fmt.Errorf("partition entry has negative append time %d", e.appendTime)
		}
	case EntryControl:
		if len(e.body) == 0 {
			return partEntry{}, fmt.Errorf("control entry has no command")
		}
	default:
		return partEntry{}, fmt.Errorf("partition entry has unknown type %d", e.typ)
	}
	return e, nil
}

// replicaState is what a replicated partition durably knows besides its segment files: the
// checkpoint file and the raft snapshot descriptor share this encoding.
//
//	magic "TRPS" | version u8 | index u64 | term u64 | nextOffset i64 | logStart i64 |
//	epochBase i32 | lastAppendTime i64 | n u32 | n × (epoch i32, start i64) |
//	m u32 | m × producer | crc32c u32
//	producer = pid i64 | epoch i16 | k u8 | k × (firstSeq i32, lastSeq i32, baseOffset i64, appendTime i64)
//
// Producers are sorted by id and each keeps its recent batches oldest first, so the same state
// always encodes to the same bytes. The producer state is part of the record (not rebuilt from
// the log) because retention deletes batches independently on each replica: a replica that
// rebuilt it from its trimmed log would forget producers the others remember.
type replicaState struct {
	index, term    uint64 // applied index and its term (term: snapshots only)
	nextOffset     int64
	logStart       int64
	epochBase      int32
	lastAppendTime int64 // -1: nothing appended yet
	epochs         epochHistory
	producers      []producerRecord // by pid; nil if none
}

// producerRecord is one idempotent producer's state in a replicaState.
type producerRecord struct {
	pid int64
	st  producerState
}

const (
	stateMagic        = "TRPS"
	stateVersion      = 2 // 1 (no producer state) was never released
	stateFixedSize    = 4 + 1 + 8 + 8 + 8 + 8 + 4 + 8 + 4
	stateEpochSize    = 4 + 8
	stateProducerSize = 8 + 2 + 1
	stateSeqSize      = 4 + 4 + 8 + 8
	stateCRCSize      = 4
)

func (s *replicaState) encode() []byte {
	be := binary.BigEndian
	b := make([]byte, 0, stateFixedSize+len(s.epochs)*stateEpochSize+stateCRCSize)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = be.AppendUint64(b, s.index)
	b = be.AppendUint64(b, s.term)
	b = be.AppendUint64(b, uint64(s.nextOffset))
	b = be.AppendUint64(b, uint64(s.logStart))
	b = be.AppendUint32(b, uint32(s.epochBase))
	b = be.AppendUint64(b, uint64(s.lastAppendTime))
	b = be.AppendUint32(b, uint32(len(s.epochs)))
	for _, e := range s.epochs {
		b = be.AppendUint32(b, uint32(e.Epoch))
		b = be.AppendUint64(b, uint64(e.StartOffset))
	}
	b = appendProducers(b, s.producers)
	return be.AppendUint32(b, crc32.Checksum(b, castagnoliTable))
}

// appendProducers appends the producer section (m u32 | m × producer) that decodeProducers
// reads: the replica checkpoint and the single-node producer snapshot share it.
func appendProducers(b []byte, recs []producerRecord) []byte {
	be := binary.BigEndian
	b = be.AppendUint32(b, uint32(len(recs)))
	for _, p := range recs {
		b = be.AppendUint64(b, uint64(p.pid))
		b = be.AppendUint16(b, uint16(p.st.epoch))
		b = append(b, byte(len(p.st.recent)))
		for _, e := range p.st.recent {
			b = be.AppendUint32(b, uint32(e.firstSeq))
			b = be.AppendUint32(b, uint32(e.lastSeq))
			b = be.AppendUint64(b, uint64(e.baseOffset))
			b = be.AppendUint64(b, uint64(e.appendTime))
		}
	}
	return b
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

func decodeReplicaState(b []byte) (replicaState, error) {
	be := binary.BigEndian
	if len(b) < stateFixedSize+stateCRCSize || string(b[:4]) != stateMagic {
		return replicaState{}, fmt.Errorf("not a replica state record (%d bytes)", len(b))
	}
	body := b[:len(b)-stateCRCSize]
	if crc32.Checksum(body, castagnoliTable) != be.Uint32(b[len(body):]) {
		return replicaState{}, fmt.Errorf("replica state record fails its CRC")
	}
	if b[4] != stateVersion {
		return replicaState{}, fmt.Errorf("replica state record has version %d; this node knows %d", b[4], stateVersion)
	}
	p := body[5:]
	s := replicaState{
		index:          be.Uint64(p[0:]),
		term:           be.Uint64(p[8:]),
		nextOffset:     int64(be.Uint64(p[16:])),
		logStart:       int64(be.Uint64(p[24:])),
		epochBase:      int32(be.Uint32(p[32:])),
		lastAppendTime: int64(be.Uint64(p[36:])),
	}
	n := be.Uint32(p[44:])
	p = p[48:]
	if uint64(n)*stateEpochSize+4 > uint64(len(p)) {
		return replicaState{}, fmt.Errorf("replica state record claims %d epochs in %d bytes", n, len(p))
	}
	if s.nextOffset < 0 || s.logStart < 0 || s.logStart > s.nextOffset || s.lastAppendTime < -1 {
		return replicaState{}, fmt.Errorf("replica state record has offsets [%d, %d) and append time %d", s.logStart, s.nextOffset, s.lastAppendTime)
	}
	for i := range int(n) {
		e := EpochEntry{Epoch: int32(be.Uint32(p[i*stateEpochSize:])), StartOffset: int64(be.Uint64(p[i*stateEpochSize+4:]))}
		if e.Epoch < 0 || e.StartOffset < 0 || e.StartOffset > s.nextOffset ||
			(i > 0 && (e.Epoch <= s.epochs[i-1].Epoch || e.StartOffset < s.epochs[i-1].StartOffset)) {
			return replicaState{}, fmt.Errorf("replica state record has a non-monotonic epoch %d at offset %d", e.Epoch, e.StartOffset)
		}
		s.epochs = append(s.epochs, e)
	}
	prods, err := decodeProducers(p[n*stateEpochSize:], s.nextOffset)
	if err != nil {
		return replicaState{}, err
	}
	s.producers = prods
	return s, nil
}

// decodeProducers decodes the producer section (m u32 | m × producer) that must fill p.
func decodeProducers(p []byte, nextOffset int64) ([]producerRecord, error) {
	be := binary.BigEndian
	m := be.Uint32(p)
	p = p[4:]
	if uint64(m)*stateProducerSize > uint64(len(p)) {
		return nil, fmt.Errorf("replica state record claims %d producers in %d bytes", m, len(p))
	}
	var out []producerRecord
	for i := range int(m) {
		if len(p) < stateProducerSize {
			return nil, fmt.Errorf("replica state record ends inside producer %d", i)
		}
		r := producerRecord{pid: int64(be.Uint64(p)), st: producerState{epoch: int16(be.Uint16(p[8:]))}}
		k := int(p[10])
		p = p[stateProducerSize:]
		if r.pid < 0 || (i > 0 && r.pid <= out[i-1].pid) || k < 1 || k > maxInflightBatches || len(p) < k*stateSeqSize {
			return nil, fmt.Errorf("replica state record has a bad producer %d (%d batches) at position %d", r.pid, k, i)
		}
		for j := range k {
			q := p[j*stateSeqSize:]
			e := seqEntry{firstSeq: int32(be.Uint32(q)), lastSeq: int32(be.Uint32(q[4:])),
				baseOffset: int64(be.Uint64(q[8:])), appendTime: int64(be.Uint64(q[16:]))}
			if e.baseOffset < 0 || e.baseOffset >= nextOffset {
				return nil, fmt.Errorf("replica state record: producer %d has a batch at offset %d outside [0, %d)", r.pid, e.baseOffset, nextOffset)
			}
			r.st.recent = append(r.st.recent, e)
		}
		p = p[k*stateSeqSize:]
		out = append(out, r)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("replica state record has %d bytes after its producers", len(p))
	}
	return out, nil
}

// producerRecords is the sorted, deterministic form of a partition's producer map (copied).
func producerRecords(m map[int64]*producerState) []producerRecord {
	var out []producerRecord
	for pid, st := range m {
		out = append(out, producerRecord{pid: pid, st: producerState{epoch: st.epoch, recent: append([]seqEntry(nil), st.recent...)}})
	}
	slices.SortFunc(out, func(a, b producerRecord) int { return cmp.Compare(a.pid, b.pid) })
	return out
}

// producerMap is the partition's map form of recs (copied).
func producerMap(recs []producerRecord) map[int64]*producerState {
	m := make(map[int64]*producerState, len(recs))
	for _, r := range recs {
		m[r.pid] = &producerState{epoch: r.st.epoch, recent: append([]seqEntry(nil), r.st.recent...)}
	}
	return m
}
