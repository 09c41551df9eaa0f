package group

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrClosed is returned by Manager calls made after Close.
var ErrClosed = errors.New("group coordinator is closed")

// Options configure a Manager.
type Options struct {
	Config Config
	// Now is the clock; default time.Now.
	Now func() time.Time
	// TickInterval is how often the Manager calls Coordinator.Tick; default 100ms. A negative
	// value disables the ticker, for tests that call Manager.Tick themselves.
	TickInterval time.Duration
}

// Manager runs a Coordinator on one goroutine and offers the blocking calls the Kafka handlers
// make. Every call is serialised into that goroutine; JoinGroup and SyncGroup block until their
// rebalance barrier completes, the caller's context ends, or the Manager closes.
type Manager struct {
	now   func() time.Time
	calls chan func(c *Coordinator, now time.Time)
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	epoch uint64                        // the coordinator epoch of the groups held; owned by the goroutine (epoch.go)
	fence atomic.Pointer[func() uint64] // reports the current epoch; nil: never fenced
}

// NewManager starts a Manager's goroutine; Close stops it.
func NewManager(opts Options) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TickInterval == 0 {
		opts.TickInterval = 100 * time.Millisecond
	}
	m := &Manager{
		now:   opts.Now,
		calls: make(chan func(*Coordinator, time.Time)),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go m.run(NewCoordinator(opts.Config), opts.TickInterval)
	return m
}

func (m *Manager) run(c *Coordinator, interval time.Duration) {
	defer close(m.done)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case fn := <-m.calls:
			fn(c, m.now())
		case <-tick:
			m.checkFence(c)
			c.Tick(m.now())
		case <-m.quit:
			c.Shutdown(kerr.CoordinatorNotAvailable.Code)
			return
		}
	}
}

// Close answers every waiting JoinGroup and SyncGroup with COORDINATOR_NOT_AVAILABLE (clients
// then look for the coordinator again), stops the goroutine and waits for it. Calls made after
// Close answer COORDINATOR_NOT_AVAILABLE.
func (m *Manager) Close() {
	m.once.Do(func() { close(m.quit) })
	<-m.done
}

// do runs fn on the Manager's goroutine and waits for it. It fails if ctx ends first or the
// Manager is closed; fn then never runs.
func (m *Manager) do(ctx context.Context, fn func(c *Coordinator, now time.Time)) error {
	ran := make(chan struct{})
	e, fenced := epochFrom(ctx)
	select {
	case m.calls <- func(c *Coordinator, now time.Time) {
		if fenced {
			m.adoptEpoch(c, e)
		}
		fn(c, now)
		close(ran)
	}:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.quit:
		return ErrClosed
	}
	<-ran // the goroutine has taken fn and runs it without blocking
	return nil
}

// Tick checks the fence (SetFence) and runs Coordinator.Tick at the clock's current time, on
// the Manager's goroutine. The
// ticker does this on its own; tests with a fake clock call it to advance deterministically.
func (m *Manager) Tick(ctx context.Context) error {
	return m.do(ctx, func(c *Coordinator, now time.Time) {
		m.checkFence(c)
		c.Tick(now)
	})
}

// await waits for a reply the Coordinator may give later. A reply func that fills a channel of
// capacity one never blocks the Coordinator, so a caller that gives up (its client disconnected)
// leaves nothing behind: the member then times out like any member that went away.
func await[T any](ctx context.Context, ch <-chan T, onErr func() T) T {
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return onErr()
	}
}

// Join handles a JoinGroup for namespace ns, blocking until the group's rebalance answers it.
// The client id and host come from WithClient(ctx, …).
func (m *Manager) Join(ctx context.Context, ns string, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	client := clientFrom(ctx)
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	fail := func() *kmsg.JoinGroupResponse { return joinError(req, kerr.CoordinatorNotAvailable.Code) }
	err := m.do(ctx, func(c *Coordinator, now time.Time) {
		c.Join(now, ns, client, req, func(r *kmsg.JoinGroupResponse) { ch <- r })
	})
	if err != nil {
		return fail()
	}
	return await(ctx, ch, fail)
}

// Sync handles a SyncGroup for namespace ns, blocking until the leader's assignment arrives
// (or the group rebalances again).
func (m *Manager) Sync(ctx context.Context, ns string, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	fail := func() *kmsg.SyncGroupResponse { return syncError(req, kerr.CoordinatorNotAvailable.Code) }
	err := m.do(ctx, func(c *Coordinator, now time.Time) {
		c.Sync(now, ns, clientFrom(ctx), req, func(r *kmsg.SyncGroupResponse) { ch <- r })
	})
	if err != nil {
		return fail()
	}
	return await(ctx, ch, fail)
}

// Heartbeat handles a Heartbeat for namespace ns.
func (m *Manager) Heartbeat(ctx context.Context, ns string, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	var resp *kmsg.HeartbeatResponse
	if err := m.do(ctx, func(c *Coordinator, now time.Time) { resp = c.Heartbeat(now, ns, clientFrom(ctx), req) }); err != nil {
		resp = req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	return resp
}

// Leave handles a LeaveGroup for namespace ns.
func (m *Manager) Leave(ctx context.Context, ns string, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	var resp *kmsg.LeaveGroupResponse
	if err := m.do(ctx, func(c *Coordinator, now time.Time) { resp = c.Leave(now, ns, clientFrom(ctx), req) }); err != nil {
		resp = req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	return resp
}

// ValidateCommit checks an OffsetCommit's member and generation; see Coordinator.ValidateCommit.
func (m *Manager) ValidateCommit(ctx context.Context, ns, groupID, memberID string, generation int32) int16 {
	var code int16
	key := GroupKey{Namespace: ns, Group: groupID}
	if err := m.do(ctx, func(c *Coordinator, now time.Time) {
		code = c.ValidateCommit(now, key, clientFrom(ctx), memberID, generation)
	}); err != nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	return code
}

// State returns a group's state (StateDead if unknown or if the Manager is closed or ctx ends).
func (m *Manager) State(ctx context.Context, ns, groupID string) State {
	state := StateDead
	_ = m.do(ctx, func(c *Coordinator, _ time.Time) { state = c.State(GroupKey{Namespace: ns, Group: groupID}) })
	return state
}

// Delete forgets an Empty group; see Coordinator.Delete for the codes. The caller deletes the
// group's committed offsets when the code is 0.
func (m *Manager) Delete(ctx context.Context, ns, groupID string) int16 {
	code := kerr.CoordinatorNotAvailable.Code
	_ = m.do(ctx, func(c *Coordinator, _ time.Time) { code = c.Delete(GroupKey{Namespace: ns, Group: groupID}) })
	return code
}

// ForgetNamespace forgets every group of namespace ns; see Coordinator.ForgetNamespace.
func (m *Manager) ForgetNamespace(ctx context.Context, ns string) {
	_ = m.do(ctx, func(c *Coordinator, _ time.Time) { c.ForgetNamespace(ns) })
}

type clientKey struct{}

// WithClient returns a context that carries who sends a request: the Kafka client's id and
// address, which Join records for DescribeGroups, and the principal and its read right, which
// every call checks (like grpc's peer.FromContext: request-scoped connection facts, not
// options). Without it a call acts as the zero Client, which may do anything.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
