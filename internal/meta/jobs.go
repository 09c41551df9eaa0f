package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Stream jobs in a cluster. On a single node the job package keeps a job's definition and
// checkpoint in files; in a cluster they are here, so any node can run the job: the
// definition and wanted state (opaque to this package: the job package's JSON), the latest
// checkpoint (opaque bytes), and a lease naming the one node that runs the job.
//
// The lease is time-bound and every time is the proposer's: AcquireJobLease carries the
// proposer's clock reading (Now) and the expiry it asks for, and the apply check compares
// those with the recorded lease, never the applying node's clock, so every replica decides
// alike. A node takes a free lease, or one whose expiry has passed by its own clock; the
// holder renews its lease well before expiry and runs the job only while its clock is short
// of the expiry by a margin. Every acquisition by another node (or of a free lease) gets a
// new sequence number, and a checkpoint is applied only when it names the current holder and
// sequence: a paused former holder's late checkpoint is refused (fencing). Rows a former
// holder writes to its sinks after losing the lease are the same rows the new holder writes
// (the engine is deterministic and sinks upsert by (time, key)), so they are harmless.
//
// Jobs are a region's own: geo-DR does not replicate these commands (Replicable is false).

// Limits of the job metadata.
const (
	// MaxJobCheckpointBytes bounds a job's checkpoint kept in the metadata: it travels in a
	// raft entry, the applied metadata log and every metadata snapshot.
	MaxJobCheckpointBytes = 4 << 20
	// MaxJobDefinitionBytes bounds a job's definition.
	MaxJobDefinitionBytes = 1 << 20
	// MaxJobLease is the longest lease a node may ask for.
	MaxJobLease = 5 * time.Minute
)

// Job is a stream job as the metadata holds it.
type Job struct {
	Name string `json:"name"`
	// Definition is the job package's record (spec, creator, wanted state, start position).
	Definition json.RawMessage `json:"definition"`
	Lease      *JobLease       `json:"lease,omitempty"`
	// Leases counts the acquisitions so far; the current lease's Seq is the latest.
	Leases uint64 `json:"leases,omitempty"`
	// Checkpoint is the latest checkpoint, written under lease CheckpointLease.
	Checkpoint      []byte `json:"checkpoint,omitempty"`
	CheckpointLease uint64 `json:"checkpointLease,omitempty"`
	// CheckpointNumber numbers the checkpoints written under CheckpointLease; a checkpoint
	// not numbered above it (a late or duplicated copy) is refused.
	CheckpointNumber uint64    `json:"checkpointNumber,omitempty"`
	UpdatedAt        time.Time `json:"updatedAt"`
	// Version changes with every PutJob (it is the metadata index of that command), so a
	// writer can make its change conditional on the definition it read (IfVersion).
	Version uint64 `json:"version"`
}

// JobLease says which node runs a job, until when (by the proposer's clock).
type JobLease struct {
	Node    uint64    `json:"node"`
	Seq     uint64    `json:"seq"`
	Expires time.Time `json:"expires"`
}

// PutJob creates a job (Create) or replaces the definition of an existing one, if its Version
// is still IfVersion (0: whatever it is). Restart also drops the checkpoint and revokes the
// lease, so the next run starts afresh and nothing the previous holder still writes is
// accepted. The condition also keeps a forwarded proposal that raft applies twice from
// applying its change twice.
type PutJob struct {
	Name       string          `json:"name"`
	Definition json.RawMessage `json:"definition"`
	Create     bool            `json:"create,omitempty"`
	Restart    bool            `json:"restart,omitempty"`
	IfVersion  uint64          `json:"ifVersion,omitempty"`
	Time       time.Time       `json:"time"`
}

// DeleteJob removes a job with its lease and checkpoint, if its Version is still IfVersion
// (0: whatever it is).
type DeleteJob struct {
	Name      string `json:"name"`
	IfVersion uint64 `json:"ifVersion,omitempty"`
}

// AcquireJobLease takes or renews the lease of a job for Node until Expires. Now is the
// proposer's clock reading: the lease is taken only if it is free, already Node's, or expired
// at Now.
type AcquireJobLease struct {
	Name    string    `json:"name"`
	Node    uint64    `json:"node"`
	Now     time.Time `json:"now"`
	Expires time.Time `json:"expires"`
}

// ReleaseJobLease gives the lease Seq of a job up (its holder stopped running it).
type ReleaseJobLease struct {
	Name string `json:"name"`
	Node uint64 `json:"node"`
	Seq  uint64 `json:"seq"`
}

// SaveJobCheckpoint records a job's checkpoint, written by Node under lease Seq as the
// Number-th checkpoint of that lease (0: unnumbered, always after the current one). Empty Data
// drops the checkpoint.
type SaveJobCheckpoint struct {
	Name   string `json:"name"`
	Node   uint64 `json:"node"`
	Seq    uint64 `json:"seq"`
	Number uint64 `json:"number,omitempty"`
	Data   []byte `json:"data,omitempty"`
}

// The job command types.
const (
	TypePutJob            CommandType = "PutJob"
	TypeDeleteJob         CommandType = "DeleteJob"
	TypeAcquireJobLease   CommandType = "AcquireJobLease"
	TypeReleaseJobLease   CommandType = "ReleaseJobLease"
	TypeSaveJobCheckpoint CommandType = "SaveJobCheckpoint"
)

// Type implements Command.
func (PutJob) Type() CommandType { return TypePutJob }

// Type implements Command.
func (DeleteJob) Type() CommandType { return TypeDeleteJob }

// Type implements Command.
func (AcquireJobLease) Type() CommandType { return TypeAcquireJobLease }

// Type implements Command.
func (ReleaseJobLease) Type() CommandType { return TypeReleaseJobLease }

// Type implements Command.
func (SaveJobCheckpoint) Type() CommandType { return TypeSaveJobCheckpoint }

// IsJobCommand reports whether c is one of the job commands of this file.
func IsJobCommand(c Command) bool {
	switch c.(type) {
	case PutJob, DeleteJob, AcquireJobLease, ReleaseJobLease, SaveJobCheckpoint:
		return true
	}
	return false
}

func jobKey(name string) string { return strings.ToLower(name) }

func (s *State) job(name string) (*Job, error) {
	j, ok := s.jobs[jobKey(name)]
	if !ok {
		return nil, errcode.New(errcode.NotFound, "job %s does not exist; list jobs with 'tandem job list'", name)
	}
	return j, nil
}

// JobNames returns the names of the jobs, sorted by their lower-case key.
func (s *State) JobNames() []string {
	keys := slices.Sorted(maps.Keys(s.jobs))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.jobs[k].Name
	}
	return out
}

// Job returns a copy of job name (its checkpoint shared, read-only, with the state).
func (s *State) Job(name string) (Job, bool) {
	j, err := s.job(name)
	if err != nil {
		return Job{}, false
	}
	c := *j
	c.Definition = bytes.Clone(j.Definition)
	if j.Lease != nil {
		l := *j.Lease
		c.Lease = &l
	}
	return c, true
}

func (c PutJob) check(s *State) error {
	if c.Name == "" || len(c.Name) > 256 {
		return errcode.New(errcode.InvalidArgument, "a job name must have 1 to 256 characters")
	}
	if len(c.Definition) == 0 || len(c.Definition) > MaxJobDefinitionBytes || !json.Valid(c.Definition) {
		return errcode.New(errcode.InvalidArgument, "job %s: the definition must be JSON of at most %d bytes", c.Name, MaxJobDefinitionBytes)
	}
	j, err := s.job(c.Name)
	switch {
	case c.Create && err == nil:
		return errcode.New(errcode.AlreadyExists, "the job name %s is taken; pick another name", c.Name)
	case !c.Create && err != nil:
		return err
	case !c.Create:
		return j.checkVersion(c.IfVersion)
	}
	return nil
}

func (j *Job) checkVersion(want uint64) error {
	if want != 0 && want != j.Version {
		return errcode.New(errcode.Conflict, "job %s changed meanwhile (version %d, not %d); read it again and retry", j.Name, j.Version, want)
	}
	return nil
}

func (c PutJob) apply(s *State) {
	if s.jobs == nil {
		s.jobs = map[string]*Job{}
	}
	j, ok := s.jobs[jobKey(c.Name)]
	if !ok {
		j = &Job{Name: c.Name}
		s.jobs[jobKey(c.Name)] = j
	}
	j.Definition, j.UpdatedAt, j.Version = bytes.Clone(c.Definition), c.Time, s.index+1
	if c.Restart {
		j.Lease, j.Checkpoint, j.CheckpointLease, j.CheckpointNumber = nil, nil, 0, 0
	}
}

func (c DeleteJob) check(s *State) error {
	j, err := s.job(c.Name)
	if err != nil {
		return err
	}
	return j.checkVersion(c.IfVersion)
}

func (c DeleteJob) apply(s *State) { delete(s.jobs, jobKey(c.Name)) }

func (c AcquireJobLease) check(s *State) error {
	j, err := s.job(c.Name)
	if err != nil {
		return err
	}
	if c.Node == 0 || !c.Expires.After(c.Now) || c.Expires.Sub(c.Now) > MaxJobLease {
		return errcode.New(errcode.InvalidArgument, "job %s: a lease needs a node and an expiry within %s of now", c.Name, MaxJobLease)
	}
	if l := j.Lease; l != nil && l.Node != c.Node && c.Now.Before(l.Expires) {
		return errcode.New(errcode.Conflict, "job %s runs on node %d (lease %d until %s)", c.Name, l.Node, l.Seq, l.Expires.Format(time.RFC3339Nano))
	}
	return nil
}

func (c AcquireJobLease) apply(s *State) {
	j := s.jobs[jobKey(c.Name)]
	if l := j.Lease; l != nil && l.Node == c.Node {
		// A renewal keeps the sequence: no other node held the lease meanwhile, or it would
		// name that node.
		nl := *l
		nl.Expires = later(l.Expires, c.Expires)
		j.Lease = &nl
		return
	}
	j.Leases++
	j.Lease = &JobLease{Node: c.Node, Seq: j.Leases, Expires: c.Expires}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// holds checks that node holds lease seq of job j.
func holds(j *Job, node, seq uint64) error {
	if l := j.Lease; l == nil || l.Node != node || l.Seq != seq {
		holder := "no node"
		if l != nil {
			holder = fmt.Sprintf("lease %d of node %d", l.Seq, l.Node)
		}
		return errcode.New(errcode.Conflict, "job %s: lease %d of node %d is no longer current (%s holds it now); the node must stop running the job",
			j.Name, seq, node, holder)
	}
	return nil
}

func (c ReleaseJobLease) check(s *State) error {
	j, err := s.job(c.Name)
	if err != nil {
		return err
	}
	return holds(j, c.Node, c.Seq)
}

func (c ReleaseJobLease) apply(s *State) { s.jobs[jobKey(c.Name)].Lease = nil }

func (c SaveJobCheckpoint) check(s *State) error {
	j, err := s.job(c.Name)
	if err != nil {
		return err
	}
	if len(c.Data) > MaxJobCheckpointBytes {
		return errcode.New(errcode.InvalidArgument,
			"job %s: its checkpoint is %d bytes, over the %d bytes (4 MiB) a job's checkpoint may have in a cluster; reduce the job's state (shorter windows, fewer keys)",
			c.Name, len(c.Data), MaxJobCheckpointBytes)
	}
	if err := holds(j, c.Node, c.Seq); err != nil {
		return err
	}
	if c.Number != 0 && j.CheckpointLease == c.Seq && c.Number <= j.CheckpointNumber {
		return errcode.New(errcode.AlreadyExists, "job %s: checkpoint %d of lease %d is not after checkpoint %d, already recorded (a late or repeated copy)",
			c.Name, c.Number, c.Seq, j.CheckpointNumber)
	}
	return nil
}

func (c SaveJobCheckpoint) apply(s *State) {
	j := s.jobs[jobKey(c.Name)]
	if j.CheckpointLease != c.Seq {
		j.CheckpointNumber = 0
	}
	j.Checkpoint, j.CheckpointLease, j.CheckpointNumber = bytes.Clone(c.Data), c.Seq, max(j.CheckpointNumber, c.Number)
	if len(c.Data) == 0 {
		j.Checkpoint = nil
	}
}

// checkJobs validates the jobs of a decoded snapshot.
func checkJobs(jobs map[string]*Job) error {
	for k, j := range jobs {
		if j == nil || jobKey(j.Name) != k {
			return errcode.New(errcode.CorruptData, "metadata snapshot has a broken entry for job %q", k)
		}
	}
	return nil
}
