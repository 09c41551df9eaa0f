package job

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// metaStore keeps the jobs of a cluster in the region's replicated metadata (meta/jobs.go):
// the record (definition, creator, wanted state) as the job's opaque definition, and the
// encoded checkpoint, bounded by meta.MaxJobCheckpointBytes. A checkpoint is written under
// the job lease this node holds, and refused at apply once another node holds the lease.
type metaStore struct {
	b    *broker.Broker
	node uint64
}

// proposeTimeout bounds one metadata change of the job store.
const proposeTimeout = 30 * time.Second

func (s metaStore) propose(c meta.Command) error { return s.proposeIn(context.Background(), c) }

// proposeIn proposes c within ctx (and proposeTimeout).
func (s metaStore) proposeIn(ctx context.Context, c meta.Command) error {
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	return s.b.ProposeJob(ctx, c, nil)
}

func (s metaStore) names() ([]string, error) {
	var names []string
	s.b.ViewJobs(func(st *meta.State) { names = st.JobNames() })
	return names, nil
}

func (s metaStore) job(name string) (meta.Job, bool) {
	var j meta.Job
	var ok bool
	s.b.ViewJobs(func(st *meta.State) { j, ok = st.Job(name) })
	return j, ok
}

func (s metaStore) load(name string) (*record, error) {
	j, ok := s.job(name)
	if !ok {
		return nil, errcode.New(errcode.NotFound, "job %s does not exist; list jobs with 'tandem job list'", name)
	}
	return decodeRecord(j)
}

func decodeRecord(j meta.Job) (*record, error) {
	r := &record{version: j.Version}
	if err := json.Unmarshal(j.Definition, r); err != nil {
		return nil, fmt.Errorf("job %s: its definition in the metadata: %w", j.Name, err)
	}
	return r, nil
}

// put writes r if the job is still at the version r was read at, and records the new version
// in r.
func (s metaStore) put(r *record, create, restart bool) error {
	def, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), proposeTimeout)
	defer cancel()
	c := meta.PutJob{Name: r.Spec.Name, Definition: def, Create: create, Restart: restart, IfVersion: r.version, Time: time.Now().UTC()}
	if create {
		c.IfVersion = 0
	}
	var version uint64
	err = s.b.ProposeJob(ctx, c, func(st *meta.State) {
		j, _ := st.Job(r.Spec.Name)
		version = j.Version
	})
	if err == nil {
		r.version = version
	}
	return err
}

func (s metaStore) create(r *record) error  { return s.put(r, true, false) }
func (s metaStore) save(r *record) error    { return s.put(r, false, false) }
func (s metaStore) restart(r *record) error { return s.put(r, false, true) }

func (s metaStore) remove(r *record) error {
	err := s.propose(meta.DeleteJob{Name: r.Spec.Name, IfVersion: r.version})
	if errcode.Is(err, errcode.NotFound) {
		return nil
	}
	return err
}

func (s metaStore) loadCheckpoint(name string) (*checkpoint, error) {
	j, ok := s.job(name)
	if !ok || len(j.Checkpoint) == 0 {
		return nil, nil
	}
	c, err := decodeCheckpoint(j.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", name, err)
	}
	return c, nil
}

// saveCheckpoint records c as checkpoint number of lease. A copy of the same number that an
// earlier attempt got applied (its answer lost) counts as written.
func (s metaStore) saveCheckpoint(ctx context.Context, name string, lease, number uint64, c *checkpoint) (int, error) {
	b, err := c.encode()
	if err != nil {
		return 0, err
	}
	if len(b) > meta.MaxJobCheckpointBytes {
		return len(b), errcode.New(errcode.InvalidArgument,
			"its checkpoint is %d bytes, over the %d bytes (4 MiB) a job's checkpoint may have in a cluster, where it is kept in the region's replicated metadata; reduce the job's state (shorter windows, fewer keys)",
			len(b), meta.MaxJobCheckpointBytes)
	}
	err = s.proposeIn(ctx, meta.SaveJobCheckpoint{Name: name, Node: s.node, Seq: lease, Number: number, Data: b})
	if errcode.Is(err, errcode.AlreadyExists) {
		err = nil
	}
	return len(b), err
}

func (s metaStore) dropCheckpoint(ctx context.Context, name string, lease uint64) error {
	if j, ok := s.job(name); !ok || len(j.Checkpoint) == 0 {
		return nil
	}
	return s.proposeIn(ctx, meta.SaveJobCheckpoint{Name: name, Node: s.node, Seq: lease})
}
