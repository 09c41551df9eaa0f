package job

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Manager owns the jobs of one region: their definitions on disk and a runner goroutine for
// each running job. In a cluster (cluster.go) every node has one; the definitions live in the
// region's metadata and each running job runs on the one node that holds its lease.
type Manager struct {
	b        *broker.Broker
	store    jobStore
	cl       *clusterJobs // nil on a single node
	filesDir string       // <data>/job-files: where confined jobs keep their files
	opts     Options
	mu       struct {
		sync.Mutex
		jobs   map[string]*entry
		closed bool
	}
}

type entry struct {
	rec    *record
	run    *runner // nil when not running (here)
	err    string  // why the last run ended, when it failed
	holder uint64  // in a cluster, the node that holds the job's lease (0: none)
}

// Info is a job as the API shows it.
type Info struct {
	Spec      Spec       `json:"spec"`
	Status    Status     `json:"status"`
	StartFrom string     `json:"startFrom,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	StoppedAt *time.Time `json:"stoppedAt,omitempty"`
	// Node is, in a cluster, the node that runs the job (holds its lease). Only that node
	// reports the job's live numbers.
	Node uint64 `json:"node,omitempty"`
}

// Defaults of Options.
const (
	DefaultReferenceMaxBytes = 64 << 20
	DefaultStateBudget       = 256 << 20
)

// Options configure a Manager.
type Options struct {
	Broker     *broker.Broker
	DataDir    string                // jobs live in <DataDir>/jobs, confined jobs' files in <DataDir>/job-files
	Registerer prometheus.Registerer // the per-job metrics; nil registers none
	// ReferenceMaxBytes is the largest reference data file a job reads (default
	// DefaultReferenceMaxBytes). The rows are held in memory for the life of the run.
	ReferenceMaxBytes int64
	// StateBudget is the largest state a job may hold, in bytes, as its checkpoint measures it
	// (default DefaultStateBudget); a job over it fails. A job's spec can lower it.
	StateBudget int64
	// LeaseTTL is, in a cluster, how long a job's lease lasts without renewal (default
	// DefaultLeaseTTL): a job whose node dies moves to another node after about this long.
	LeaseTTL time.Duration
	Logger   *slog.Logger // nil means slog.Default()
}

// NewManager loads the jobs under <data>/jobs and starts again those that were running, each
// from its checkpoint. In a cluster it follows the jobs in the region's metadata instead, and
// runs those whose lease it takes (cluster.go).
func NewManager(opts Options) (*Manager, error) {
	if opts.ReferenceMaxBytes <= 0 {
		opts.ReferenceMaxBytes = DefaultReferenceMaxBytes
	}
	if opts.StateBudget <= 0 {
		opts.StateBudget = DefaultStateBudget
	}
	m := &Manager{b: opts.Broker, store: store{dir: filepath.Join(opts.DataDir, "jobs")},
		filesDir: filepath.Join(opts.DataDir, FilesDir), opts: opts}
	if err := os.MkdirAll(m.filesDir, 0o700); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	m.mu.jobs = map[string]*entry{}
	if node, ok := opts.Broker.ClusterNodeID(); ok {
		if opts.LeaseTTL <= 0 {
			opts.LeaseTTL = DefaultLeaseTTL
		}
		if opts.Logger == nil {
			opts.Logger = slog.Default()
		}
		m.opts = opts
		m.store = metaStore{b: opts.Broker, node: node}
		m.cl = &clusterJobs{node: node, ttl: opts.LeaseTTL, log: opts.Logger.With("component", "jobs")}
		return m, m.register(func() { m.startCluster() })
	}
	names, err := m.store.names()
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	for _, n := range names {
		rec, err := m.store.load(n)
		if err != nil {
			return nil, err
		}
		e := &entry{rec: rec}
		m.mu.jobs[strings.ToLower(n)] = e
		if rec.Want == Running {
			m.startLocked(e, true, grant{})
		}
	}
	return m, m.register(func() {})
}

// register registers the metrics, then calls start.
func (m *Manager) register(start func()) error {
	if reg := m.opts.Registerer; reg != nil {
		if err := reg.Register(m); err != nil {
			m.Close()
			return err
		}
	}
	start()
	return nil
}

// entry returns the job called name if caller by may see it (Creator.sees); a job it may not
// see reads as absent.
func (m *Manager) entry(name string, by Creator) (*entry, error) {
	e, ok := m.mu.jobs[strings.ToLower(name)]
	if !ok && m.cl != nil {
		// In a cluster the tend loop follows the metadata; a job applied here since its last
		// round is read from the metadata at once.
		if rec, err := m.store.load(name); err == nil {
			e, ok = &entry{rec: rec}, true
			m.mu.jobs[strings.ToLower(name)] = e
		}
	}
	if !ok || !by.sees(e.rec.Creator) {
		return nil, errcode.New(errcode.NotFound, "job %s does not exist; list jobs with 'tandem job list'", name)
	}
	return e, nil
}

// access is what a job of creator c may touch.
func (m *Manager) access(c Creator) access {
	return access{creator: c, filesDir: m.filesDir, refMax: m.opts.ReferenceMaxBytes}
}

// Create stores a new job, stopped. What the job may touch is bounded by who creates it (see
// Creator), now and each time it starts. Its errors show no password of the spec.
func (m *Manager) Create(ctx context.Context, spec Spec, by Creator) (Info, error) {
	info, err := m.create(ctx, spec, by)
	return info, spec.scrubErr(err)
}

func (m *Manager) create(ctx context.Context, spec Spec, by Creator) (Info, error) {
	if err := spec.checkNotRedacted(); err != nil {
		return Info{}, err
	}
	if err := m.checkBudgetSpec(spec); err != nil {
		return Info{}, err
	}
	if _, err := spec.validate(m.access(by)); err != nil {
		return Info{}, err
	}
	if err := spec.checkOutputs(ctx); err != nil {
		return Info{}, err
	}
	for _, in := range spec.Inputs {
		if in.Reference != "" {
			continue
		}
		if _, err := m.b.Hub(in.Namespace, in.Hub); err != nil {
			return Info{}, fmt.Errorf("job %s input %s: %w", spec.Name, in.Name, err)
		}
		if _, err := m.b.ConsumerGroup(in.Namespace, in.Hub, in.group()); err != nil {
			return Info{}, fmt.Errorf("job %s input %s: %w", spec.Name, in.Name, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.mu.jobs[strings.ToLower(spec.Name)]; ok {
		if !by.sees(e.rec.Creator) {
			// Names are one space: say only that the name is taken.
			return Info{}, errcode.New(errcode.AlreadyExists, "the job name %s is taken; pick another name", spec.Name)
		}
		return Info{}, errcode.New(errcode.AlreadyExists, "job %s already exists; delete it first or pick another name", spec.Name)
	}
	rec := &record{Spec: spec, Creator: by, Want: Created, CreatedAt: time.Now().UTC()}
	if err := m.store.create(rec); err != nil {
		return Info{}, err
	}
	e := &entry{rec: rec}
	m.mu.jobs[strings.ToLower(spec.Name)] = e
	return m.infoLocked(e), nil
}

// StartJob starts a job that caller by may see. from is now (the default), start,
// time:RFC3339 or last-stopped.
func (m *Manager) StartJob(ctx context.Context, name, from string, by Creator) (Info, error) {
	if from == "" {
		from = "now"
	}
	switch {
	case from == "now" || from == "start" || from == "last-stopped" || strings.HasPrefix(from, "time:"):
	default:
		return Info{}, errcode.New(errcode.InvalidArgument, "start from %q: use now, start, last-stopped or time:2026-01-02T15:04:05Z", from)
	}
	if err := m.b.SyncMetadata(ctx); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.freshEntry(name, by)
	if err != nil {
		return Info{}, err
	}
	if e.run != nil || (m.cl != nil && e.rec.Want == Running) {
		return Info{}, errcode.New(errcode.Conflict, "job %s is already running; stop it first", name)
	}
	resume := from == "last-stopped"
	if resume {
		if ck, err := m.store.loadCheckpoint(e.rec.Spec.Name); err != nil {
			return Info{}, err
		} else if ck == nil {
			return Info{}, errcode.New(errcode.Conflict, "job %s has never run, so it cannot start from last-stopped; use --from now or --from start", name)
		}
	}
	now := time.Now().UTC()
	rec := *e.rec
	rec.Want, rec.StartFrom, rec.StartedAt, rec.StoppedAt = Running, from, &now, nil
	if resume {
		rec.StartFrom = "last-stopped"
	}
	save := m.store.save
	if !resume {
		save = m.store.restart
	}
	if err := save(&rec); err != nil {
		return Info{}, err
	}
	e.rec = &rec
	if m.cl == nil {
		m.startLocked(e, resume, grant{})
	} // in a cluster the node that takes the lease runs it
	return m.infoLocked(e), nil
}

// grant is what a run in a cluster holds: its job lease, until when it may run unless the
// lease is renewed (runner.until), and the number of the last checkpoint under that lease.
type grant struct {
	lease uint64
	until time.Time
	ckNum uint64
}

// startLocked starts the runner. A job that was running when the server stopped resumes from
// its checkpoint whatever it was started with. g is the grant it runs under in a cluster (zero
// on a single node).
func (m *Manager) startLocked(e *entry, resume bool, g grant) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{m: m, spec: e.rec.Spec, creator: e.rec.Creator, from: e.rec.StartFrom, resume: resume, lease: g.lease,
		ckNum: g.ckNum, cancel: cancel, done: make(chan struct{})}
	r.until.Store(g.until.UnixNano())
	r.mu.status.State = Starting
	e.run, e.err = r, ""
	go r.run(ctx)
}

// StopJob stops a running job that caller by may see, after writing its rows and a checkpoint.
func (m *Manager) StopJob(ctx context.Context, name string, by Creator) (Info, error) {
	if m.cl != nil {
		return m.stopClustered(ctx, name, by)
	}
	m.mu.Lock()
	e, err := m.entry(name, by)
	if err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	r := e.run
	m.mu.Unlock()
	if r != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-ctx.Done():
			return Info{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.run == r && r != nil {
		e.run = nil
		if st := r.status(); st.State == Failed {
			e.err = st.Error
		}
	}
	now := time.Now().UTC()
	e.rec.Want, e.rec.StoppedAt = Stopped, &now
	if err := m.store.save(e.rec); err != nil {
		return Info{}, err
	}
	return m.infoLocked(e), nil
}

// Delete stops and removes a job that caller by may see, and its checkpoint. Its outputs are
// left as they are.
func (m *Manager) Delete(ctx context.Context, name string, by Creator) error {
	if _, err := m.StopJob(ctx, name, by); err != nil {
		return err
	}
	if err := m.b.SyncMetadata(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.freshEntry(name, by)
	if err != nil {
		return err
	}
	if err := m.store.remove(e.rec); err != nil {
		return err
	}
	delete(m.mu.jobs, strings.ToLower(e.rec.Spec.Name))
	return nil
}

// freshEntry is entry with, in a cluster, the record read again from this node's metadata
// (after SyncMetadata, it holds every change acknowledged before), so that a change made from
// it is conditional on the latest version.
func (m *Manager) freshEntry(name string, by Creator) (*entry, error) {
	e, err := m.entry(name, by)
	if err != nil || m.cl == nil {
		return e, err
	}
	rec, err := m.store.load(name)
	if err != nil {
		return nil, err
	}
	e.rec = rec
	return e, nil
}

// Get returns one job that caller by may see.
func (m *Manager) Get(name string, by Creator) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.entry(name, by)
	if err != nil {
		return Info{}, err
	}
	return m.infoLocked(e), nil
}

// List returns every job caller by may see, by name.
func (m *Manager) List(by Creator) []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.mu.jobs))
	for k, e := range m.mu.jobs {
		if by.sees(e.rec.Creator) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := make([]Info, 0, len(names))
	for _, k := range names {
		out = append(out, m.infoLocked(m.mu.jobs[k]))
	}
	return out
}

// infoLocked is the job as the API shows it: passwords redacted from its definition, its
// status and its errors.
func (m *Manager) infoLocked(e *entry) Info {
	info := Info{Spec: e.rec.Spec.Redacted(), StartFrom: e.rec.StartFrom, CreatedAt: e.rec.CreatedAt, StartedAt: e.rec.StartedAt, StoppedAt: e.rec.StoppedAt,
		Node: e.holder}
	switch {
	case e.run != nil:
		info.Status = e.run.status()
	case m.cl != nil && e.rec.Want == Running && e.holder != 0:
		info.Status.State = Running // on node e.holder, which reports its numbers
	case m.cl != nil && e.rec.Want == Running:
		info.Status.State = Starting // no node holds its lease yet
	case e.rec.Want == Created:
		info.Status.State = Created
	case e.err != "":
		info.Status = Status{State: Failed, Error: e.err}
	default:
		info.Status.State = Stopped
	}
	info.Status.Error = e.rec.Spec.scrub(info.Status.Error)
	info.Status.LastError = e.rec.Spec.scrub(info.Status.LastError)
	return info
}

// Close stops every runner, each writing its rows and a checkpoint; the jobs keep their wanted
// state, so the next start resumes them.
func (m *Manager) Close() {
	m.mu.Lock()
	var runs []*runner
	for _, e := range m.mu.jobs {
		if e.run != nil {
			runs = append(runs, e.run)
		}
	}
	m.mu.closed = true
	m.mu.Unlock()
	if m.cl != nil {
		m.closeCluster()
	}
	for _, r := range runs {
		r.cancel()
	}
	for _, r := range runs {
		<-r.done
	}
	if m.cl != nil {
		m.releaseLeases(runs)
	}
}
