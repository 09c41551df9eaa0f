package job

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Properties a dual-write producer (client/dualwrite) stamps on every event it sends to both
// regions, and that a job input marked dualWrite reads:
//
//   - EventIDProperty: the event's stable id. A dual-write input drops an event whose id it has
//     already seen in the same partition within the de-duplication window, so a retry or a spool
//     replay reaches the job's output once.
//   - ProducedTimeProperty: when the producer accepted the event, in 100 ns ticks since the Unix
//     epoch (decimal). A dual-write input takes it as the event's arrival time (and its
//     EventEnqueuedUtcTime) instead of the region's enqueue time, so both regions apply the
//     late-arrival policy to the same instants, and a region that replays a spool after an outage
//     computes the windows the other region computed.
//   - HeartbeatProperty: the event is no data but the producer's word that it has sent this
//     partition everything up to its produced time. A dual-write input advances the partition's
//     idle watermark with it (instead of the wall clock, which differs between regions and
//     between a live run and a catch-up).
const (
	EventIDProperty      = "tandem-event-id"
	ProducedTimeProperty = "tandem-produced-time"
	HeartbeatProperty    = "tandem-heartbeat"
)

// DefaultDedupWindow is how long (in produced time) a dual-write input remembers event ids.
const DefaultDedupWindow = 2 * time.Minute

// producedTicks reads an event's produced time; ok is false when it has none or it is malformed.
func producedTicks(props map[string]string) (int64, bool) {
	s, ok := props[ProducedTimeProperty]
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(s, 10, 64)
	return t, err == nil && t > 0
}

// dedup remembers the event ids of one input partition seen within a window of produced time.
// The same event id always lands in the same partition (the producer keys it), and a partition
// holds the same sequence in both regions apart from duplicates, so the decisions are the same
// in both regions.
type dedup struct {
	window int64 // ticks
	max    int64 // greatest produced time seen
	seen   map[[16]byte]int64
	order  []idAt // insertion order, for eviction
}

type idAt struct {
	id [16]byte
	t  int64
}

func newDedup(window time.Duration) *dedup {
	return &dedup{window: int64(window / 100), seen: map[[16]byte]int64{}}
}

// fresh records id at produced time t and reports whether it was not seen within the window.
func (d *dedup) fresh(id string, t int64) bool {
	h := sha256.Sum256([]byte(id))
	var k [16]byte
	copy(k[:], h[:16])
	if _, dup := d.seen[k]; dup {
		return false
	}
	d.seen[k] = t
	d.order = append(d.order, idAt{k, t})
	d.max = max(d.max, t)
	d.evict()
	return true
}

// evict forgets ids older than the window, from the front of the insertion order.
func (d *dedup) evict() {
	i := 0
	for i < len(d.order) && d.order[i].t < d.max-d.window {
		delete(d.seen, d.order[i].id)
		i++
	}
	if i > 0 {
		d.order = slices.Delete(d.order, 0, i)
	}
}

// appendState encodes the remembered ids (in insertion order) for a checkpoint.
func (d *dedup) appendState(b []byte) []byte {
	b = binary.AppendVarint(b, d.max)
	b = binary.AppendUvarint(b, uint64(len(d.order)))
	for _, e := range d.order {
		b = append(b, e.id[:]...)
		b = binary.AppendVarint(b, e.t)
	}
	return b
}

// restore decodes appendState's output.
func (d *dedup) restore(b []byte) error {
	bad := errors.New("de-duplication state is malformed")
	m, k := binary.Varint(b)
	if k <= 0 {
		return bad
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b))/17 {
		return bad
	}
	b = b[k:]
	d.max, d.seen, d.order = m, make(map[[16]byte]int64, n), make([]idAt, 0, n)
	for range n {
		if len(b) < 17 {
			return bad
		}
		var e idAt
		copy(e.id[:], b[:16])
		t, k := binary.Varint(b[16:])
		if k <= 0 {
			return bad
		}
		e.t, b = t, b[16+k:]
		d.seen[e.id] = e.t
		d.order = append(d.order, e)
	}
	if len(b) != 0 {
		return bad
	}
	return nil
}
