package multiraft

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Envelope is one raft message of one group, as the transport carries it.
type Envelope struct {
	Group uint64
	Msg   *raftpb.Message
}

// Transport sends messages to other nodes (internal/raftnet). Send is called
// from several goroutines at once and must not block on the network; a
// message may be lost, raft retransmits. Messages
// from other nodes come back through Host.Deliver.
type Transport interface {
	Send(envs []Envelope)
}

// Options configure a Host.
type Options struct {
	NodeID    uint64 // this node's raft id, > 0
	LogStore  LogStore
	Transport Transport
	// Ticks, when set, is the tick source (one raft tick per value); nil
	// makes a time.Ticker of TickInterval.
	Ticks        <-chan time.Time
	TickInterval time.Duration // default 100ms
	Workers      int           // raft workers and apply workers each; default 2
	ElectionTick int           // default 10
	// HeartbeatTick defaults to 1.
	HeartbeatTick int
	// SnapshotEntries: after this many applied entries since the last
	// snapshot, the state machine is snapshotted and the log compacted
	// (default 10000; negative disables snapshots altogether).
	SnapshotEntries int
	// SnapshotBytes: after this many bytes of applied entries since the last snapshot, the
	// same (default 64 MiB; negative disables): with large entries (1 MiB record batches)
	// an entry count alone would let a group keep gigabytes in the WAL.
	SnapshotBytes   int64
	MaxSizePerMsg   uint64 // default 1 MiB
	MaxInflightMsgs int    // default 256
	// MaxInflightBytes defaults to 8 MiB.
	MaxInflightBytes uint64
	// MaxUncommittedEntriesSize defaults to 64 MiB.
	MaxUncommittedEntriesSize uint64
	Logger                    *slog.Logger
	Registerer                prometheus.Registerer // nil registers no metrics
}

func (o *Options) setDefaults() {
	if o.TickInterval <= 0 {
		o.TickInterval = 100 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.ElectionTick <= 0 {
		o.ElectionTick = 10
	}
	if o.HeartbeatTick <= 0 {
		o.HeartbeatTick = 1
	}
	if o.SnapshotEntries == 0 {
		o.SnapshotEntries = 10000
	}
	if o.SnapshotBytes == 0 {
		o.SnapshotBytes = 64 << 20
	}
	if o.MaxSizePerMsg == 0 {
		o.MaxSizePerMsg = 1 << 20
	}
	if o.MaxInflightMsgs <= 0 {
		o.MaxInflightMsgs = 256
	}
	if o.MaxInflightBytes == 0 {
		o.MaxInflightBytes = 8 << 20
	}
	if o.MaxUncommittedEntriesSize == 0 {
		o.MaxUncommittedEntriesSize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Errors returned by Host methods.
var (
	ErrClosed          = errors.New("multiraft: host closed")
	ErrUnknownGroup    = errors.New("multiraft: no such group on this node")
	ErrGroupExists     = errors.New("multiraft: group already on this node")
	ErrProposalDropped = errors.New("multiraft: proposal dropped by raft (leader transfer or uncommitted size limit); retry")
	// ErrLeadershipLost: the proposal may or may not commit; the caller must
	// treat it as unknown (an idempotent retry is safe).
	ErrLeadershipLost = errors.New("multiraft: leadership lost before the proposal was applied; outcome unknown")
	// ErrConfChangePending: raft would silently ignore a membership change
	// now (another one, or the new leader's log, is not applied yet).
	ErrConfChangePending = errors.New("multiraft: a membership change or the leader's first entry is still being applied; retry shortly")
)

// NotLeaderError is returned by Propose on a node that is not the group's leader.
type NotLeaderError struct {
	Group  uint64
	Leader uint64 // 0: no known leader
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return fmt.Sprintf("multiraft: group %d has no leader right now; retry", e.Group)
	}
	return fmt.Sprintf("multiraft: not the leader of group %d; the leader is node %d", e.Group, e.Leader)
}

// Host drives the raft groups of one node.
type Host struct {
	opts   Options
	log    *slog.Logger
	rlog   raft.Logger
	met    *metrics
	manual bool // no goroutines: the simulation calls the step functions

	mu       sync.RWMutex // guards groups, ids, closed
	groups   map[uint64]*replica
	ids      []uint64 // sorted, for a deterministic tick order
	closed   bool
	propSeq  atomic.Uint64
	raftQ    *scheduler
	applyQ   *scheduler
	writer   appendQueue
	stop     chan struct{}
	wg       sync.WaitGroup
	failOnce sync.Once
	failErr  atomic.Pointer[error]
	// saveMu orders LogStore writes of a group against its removal: writers hold it shared and
	// skip removed groups, RemoveGroup holds it exclusively, so no write of a group lands
	// after the LogStore forgot it (which would bring it back at the next restart).
	saveMu sync.RWMutex
}

// GroupRemover is implemented by a LogStore that can durably forget a group
// (raftwal.WAL.RemoveGroup); Host.RemoveGroup uses it.
type GroupRemover interface {
	RemoveGroup(group uint64) error
}

// New starts a host with its goroutines.
func New(opts Options) (*Host, error) {
	h, err := newHost(opts, false)
	if err != nil {
		return nil, err
	}
	h.start()
	return h, nil
}

func newHost(opts Options, manual bool) (*Host, error) {
	if opts.NodeID == 0 || opts.LogStore == nil || opts.Transport == nil {
		return nil, errors.New("multiraft: Options need NodeID, LogStore and Transport")
	}
	opts.setDefaults()
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	h := &Host{
		opts:   opts,
		log:    opts.Logger.With("node", opts.NodeID),
		met:    newMetrics(opts.Registerer),
		manual: manual,
		groups: make(map[uint64]*replica),
		raftQ:  newScheduler(),
		applyQ: newScheduler(),
		stop:   make(chan struct{}),
	}
	h.rlog = slogRaftLogger{h.log}
	h.writer.init()
	// Proposal ids start at a random point so that an entry proposed by an
	// earlier incarnation of this node never matches a waiter of this one.
	h.propSeq.Store(binary.BigEndian.Uint64(seed[:]))
	return h, nil
}

func (h *Host) start() {
	ticks := h.opts.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(h.opts.TickInterval)
		ticks = ticker.C
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-ticks:
				h.Tick()
			case <-h.stop:
				return
			}
		}
	}()
	for range h.opts.Workers {
		h.wg.Add(2)
		go func() {
			defer h.wg.Done()
			for {
				id, ok := h.raftQ.pop(true)
				if !ok {
					return
				}
				h.processRaft(id)
				h.raftQ.done(id)
			}
		}()
		go func() {
			defer h.wg.Done()
			for {
				id, ok := h.applyQ.pop(true)
				if !ok {
					return
				}
				h.processApply(id)
				h.applyQ.done(id)
			}
		}()
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			batch, ok := h.writer.take(true)
			if !ok {
				return
			}
			h.flushAppends(batch)
		}
	}()
}

// Close stops the goroutines and fails every waiting proposal with ErrClosed.
// The LogStore and the state machines are the caller's to close afterwards.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	reps := make([]*replica, 0, len(h.groups))
	for _, r := range h.groups {
		reps = append(reps, r)
	}
	h.mu.Unlock()
	close(h.stop)
	h.raftQ.close()
	h.applyQ.close()
	h.writer.close()
	h.wg.Wait()
	for _, r := range reps {
		r.failWaiters(ErrClosed)
	}
	return nil
}

// fail records a storage failure: the host stops persisting and applying,
// which stops its groups (raft must not run on after a lost write).
func (h *Host) fail(err error) {
	h.failOnce.Do(func() {
		h.failErr.Store(&err)
		h.log.Error("multiraft: host stopped after a storage failure", "err", err)
		h.mu.RLock()
		reps := make([]*replica, 0, len(h.groups))
		for _, r := range h.groups {
			reps = append(reps, r)
		}
		h.mu.RUnlock()
		for _, r := range reps {
			r.failWaiters(err)
		}
	})
}

// Err returns the storage or state machine failure that stopped the host, if any.
func (h *Host) Err() error {
	if p := h.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (h *Host) replica(group uint64) *replica {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.groups[group]
}

// Tick gives every group one raft tick. The ticker goroutine calls it; a
// simulation calls it with its virtual clock.
func (h *Host) Tick() {
	h.mu.RLock()
	reps := make([]*replica, 0, len(h.ids))
	for _, id := range h.ids {
		reps = append(reps, h.groups[id])
	}
	h.mu.RUnlock()
	for _, r := range reps {
		r.inMu.Lock()
		if r.ticks < maxPendingTicks {
			r.ticks++
		}
		r.inMu.Unlock()
		h.raftQ.enqueue(r.id)
		if r.retryTicks.Load() > 0 && r.retryTicks.Add(-1) == 0 {
			h.applyQ.enqueue(r.id) // a failed snapshot restore's back-off is over
		}
	}
}

// maxPendingTicks bounds the ticks a late worker catches up on, so that a
// stalled process does not start elections the moment it resumes.
const maxPendingTicks = 2

// Deliver hands messages from other nodes to their groups. Messages for
// groups this node does not host are dropped.
func (h *Host) Deliver(envs []Envelope) {
	for _, e := range envs {
		r := h.replica(e.Group)
		if r == nil || e.Msg == nil || e.Msg.GetTo() != h.opts.NodeID {
			h.met.dropped.Inc()
			continue
		}
		r.push(e.Msg)
		h.raftQ.enqueue(r.id)
	}
}

// RemoveGroup stops driving a group, fails its waiting proposals and, if the
// LogStore is a GroupRemover, durably deletes the group's raft state there
// (a restarted node does not see the group again). The state machine is the
// caller's to close and delete.
func (h *Host) RemoveGroup(group uint64) error {
	h.mu.Lock()
	r, ok := h.groups[group]
	if ok {
		delete(h.groups, group)
		h.ids = slices.DeleteFunc(h.ids, func(id uint64) bool { return id == group })
	}
	h.mu.Unlock()
	if !ok {
		return ErrUnknownGroup
	}
	h.saveMu.Lock()
	r.removed.Store(true)
	var err error
	if gr, ok := h.opts.LogStore.(GroupRemover); ok {
		if err = gr.RemoveGroup(group); err != nil {
			err = fmt.Errorf("multiraft: remove group %d from the log store: %w", group, err)
		}
	}
	h.saveMu.Unlock()
	r.failWaiters(ErrUnknownGroup)
	h.met.groups.Dec()
	if r.restorePending.Swap(false) {
		h.met.restoresPending.Dec()
	}
	return err
}
