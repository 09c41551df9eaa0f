package job

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Jobs in a cluster. Every node has a Manager; the jobs live in the region's metadata
// (store_meta.go), and a job lease there names the one node that runs each running job. Each
// Manager's tend loop, woken by every metadata change and at least every leaseCheckEvery:
//
//   - takes the lease of a job that should run when it is free or expired by this node's
//     clock, and renews the leases it holds every TTL/5;
//   - runs a job only while it holds an unexpired lease: it starts the runner once the lease
//     is its own (resuming from the replicated checkpoint if there is one), and cancels it
//     when the lease is lost or within TTL/5 of expiring unrenewed;
//   - stops the runner of a job no longer wanted (after its final checkpoint) and releases
//     the lease, so StopJob on any node returns once the job has stopped.
//
// A node that dies stops renewing; once the lease expires another node takes it and resumes
// from the last checkpoint the dead node wrote. The checkpoint command is fenced by the
// lease's sequence at apply, so a paused former holder cannot overwrite the new holder's
// progress; rows it still writes to the sinks are the ones the new holder writes again (the
// sinks upsert by (time, key); doc.go).

// DefaultLeaseTTL is how long a job lease lasts without renewal (Options.LeaseTTL).
const DefaultLeaseTTL = 10 * time.Second

// leaseCheckEvery bounds how long the tend loop sleeps without a metadata change.
const leaseCheckEvery = 200 * time.Millisecond

// clusterJobs is the cluster part of a Manager.
type clusterJobs struct {
	node   uint64
	ttl    time.Duration
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// renewEvery is how often the holder renews, and the margin before expiry at which it stops.
func (c *clusterJobs) renewEvery() time.Duration { return c.ttl / 5 }

func (m *Manager) startCluster() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cl.cancel, m.cl.done = cancel, make(chan struct{})
	go m.tendLoop(ctx)
}

func (m *Manager) tendLoop(ctx context.Context) {
	defer close(m.cl.done)
	for ctx.Err() == nil {
		idx := m.b.MetaIndex()
		m.tend(ctx)
		wctx, cancel := context.WithTimeout(ctx, leaseCheckEvery)
		m.b.WaitMeta(wctx, idx+1)
		cancel()
	}
}

// leaseAction is a lease change tend proposes after releasing the manager's lock.
type leaseAction struct {
	name    string
	release uint64 // release this lease; 0: acquire or renew
}

// tend brings this node's runners and leases in line with the metadata (see the file comment).
func (m *Manager) tend(ctx context.Context) {
	now := time.Now()
	jobs := map[string]meta.Job{}
	m.b.ViewJobs(func(s *meta.State) {
		for _, name := range s.JobNames() {
			j, _ := s.Job(name)
			j.Checkpoint = nil // not needed here
			jobs[strings.ToLower(name)] = j
		}
	})
	var acts []leaseAction
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return
	}
	for k, e := range m.mu.jobs {
		if _, ok := jobs[k]; !ok { // deleted
			if e.run != nil {
				e.run.cancel()
			}
			delete(m.mu.jobs, k)
		}
	}
	for k, j := range jobs {
		rec, err := decodeRecord(j)
		if err != nil {
			m.cl.log.Error("a job's definition in the metadata does not decode; skipping it", "job", j.Name, "err", err)
			continue
		}
		e := m.mu.jobs[k]
		if e == nil {
			e = &entry{}
			m.mu.jobs[k] = e
		}
		e.rec = rec
		if a, ok := m.tendJob(e, j, now); ok {
			acts = append(acts, a)
		}
	}
	m.mu.Unlock()
	// In parallel, so that a round takes at most about renewEvery however many jobs wait on
	// an unreachable metadata leader.
	var wg sync.WaitGroup
	for _, a := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.changeLease(ctx, a)
		}()
	}
	wg.Wait()
}

// tendJob decides for one job, under the manager's lock, and returns the lease change to
// propose, if any.
func (m *Manager) tendJob(e *entry, j meta.Job, now time.Time) (leaseAction, bool) {
	self, every := m.cl.node, m.cl.renewEvery()
	want := e.rec.Want == Running
	l := j.Lease
	mine := l != nil && l.Node == self
	e.holder = 0
	if l != nil {
		e.holder = l.Node
	}
	if r := e.run; r != nil {
		valid := mine && l.Seq == r.lease && now.Before(l.Expires.Add(-every))
		if !want || !valid {
			r.cancel() // lost or no longer wanted: it writes its rows and a final checkpoint
		}
		select {
		case <-r.done:
			if st := r.status(); st.State == Failed && want && valid {
				break // a failed job stays failed here, holding its lease, until stopped
			}
			e.run = nil
			if st := r.status(); st.State == Failed {
				e.err = st.Error
			}
		default:
			if valid && l.Expires.Sub(now) < m.cl.ttl-every {
				return leaseAction{name: j.Name}, true // renew, also while a stopping run ends
			}
			return leaseAction{}, false
		}
	}
	switch {
	case !want && mine && e.run == nil:
		return leaseAction{name: j.Name, release: l.Seq}, true
	case want && e.run != nil:
		if l.Expires.Sub(now) < m.cl.ttl-every {
			return leaseAction{name: j.Name}, true // renew a failed job's lease
		}
	case want && (l == nil || mine || !now.Before(l.Expires)) && m.holdsInputs(e.rec.Spec):
		return leaseAction{name: j.Name}, true // take it (or renew it) and run
	}
	return leaseAction{}, false
}

// holdsInputs reports whether this node holds a replica of every input partition of spec: a
// job reads its inputs from its node's replicas, so only such a node takes its lease.
func (m *Manager) holdsInputs(spec Spec) bool {
	for _, in := range spec.Inputs {
		if in.Reference != "" {
			continue
		}
		h, err := m.b.Hub(in.Namespace, in.Hub)
		if err != nil {
			return true // the run fails with the reason, shown in the job's status
		}
		for p := range h.Partitions {
			if _, err := m.b.LocalPartition(in.Namespace, in.Hub, p); err != nil {
				return false
			}
		}
	}
	return true
}

// changeLease proposes a lease change; after taking a lease it starts the job's runner.
func (m *Manager) changeLease(ctx context.Context, a leaseAction) {
	ctx, cancel := context.WithTimeout(ctx, m.cl.renewEvery())
	defer cancel()
	if a.release != 0 {
		err := m.b.ProposeJob(ctx, meta.ReleaseJobLease{Name: a.name, Node: m.cl.node, Seq: a.release}, nil)
		if err != nil && ctx.Err() == nil {
			m.cl.log.Debug("releasing a job lease", "job", a.name, "err", err)
		}
		return
	}
	now := time.Now().UTC()
	var lease meta.JobLease
	var ckNum uint64
	err := m.b.ProposeJob(ctx, meta.AcquireJobLease{Name: a.name, Node: m.cl.node, Now: now, Expires: now.Add(m.cl.ttl)},
		func(s *meta.State) {
			if j, ok := s.Job(a.name); ok && j.Lease != nil {
				lease = *j.Lease
				if j.CheckpointLease == lease.Seq {
					ckNum = j.CheckpointNumber // an earlier run under this lease wrote these
				}
			}
		})
	if err != nil {
		if !errcode.Is(err, errcode.Conflict) && ctx.Err() == nil {
			m.cl.log.Debug("taking a job lease", "job", a.name, "err", err)
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.mu.jobs[strings.ToLower(a.name)]
	if ok && e.run != nil && lease.Node == m.cl.node && lease.Seq == e.run.lease {
		e.run.until.Store(lease.Expires.Add(-m.cl.renewEvery()).UnixNano()) // renewed
		return
	}
	if !ok || m.mu.closed || e.run != nil || e.rec.Want != Running || lease.Node != m.cl.node {
		return
	}
	if !time.Now().Before(lease.Expires.Add(-m.cl.renewEvery())) {
		return // the proposal took too long to leave a margin; the next round renews it
	}
	e.holder = m.cl.node
	m.startLocked(e, true, grant{lease: lease.Seq, until: lease.Expires.Add(-m.cl.renewEvery()), ckNum: ckNum})
	m.cl.log.Info("running a job: this node holds its lease", "job", a.name, "lease", lease.Seq)
}

// stopClustered asks every node to stop job name, and waits until the holder has written its
// final checkpoint and released the lease (or ctx ends).
func (m *Manager) stopClustered(ctx context.Context, name string, by Creator) (Info, error) {
	if err := m.b.SyncMetadata(ctx); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	e, err := m.freshEntry(name, by)
	if err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	rec := *e.rec
	now := time.Now().UTC()
	rec.Want, rec.StoppedAt = Stopped, &now
	if err := m.store.save(&rec); err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	e.rec = &rec
	m.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	for {
		idx := m.b.MetaIndex()
		var held bool
		m.b.ViewJobs(func(s *meta.State) {
			j, ok := s.Job(name)
			held = ok && j.Lease != nil && time.Now().Before(j.Lease.Expires)
		})
		if !held {
			break
		}
		if err := m.b.WaitMeta(wctx, idx+1); err != nil && ctx.Err() != nil {
			return Info{}, ctx.Err()
		} else if err != nil && wctx.Err() != nil {
			break // the holder may be gone: its lease expires by itself
		}
	}
	return m.Get(name, by)
}

// closeCluster stops the tend loop; after the runners have stopped, Close releases the leases
// this node holds so that other nodes take the jobs over at once.
func (m *Manager) closeCluster() {
	m.cl.cancel()
	<-m.cl.done
}

func (m *Manager) releaseLeases(runs []*runner) {
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			m.b.ProposeJob(ctx, meta.ReleaseJobLease{Name: r.spec.Name, Node: m.cl.node, Seq: r.lease}, nil)
		}()
	}
	wg.Wait()
}
