package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/tandem-streaming/tandem/internal/log"
)

// A job lives in a directory of its own under <data>/jobs/<name>/:
//
//	job.json     the definition and the wanted state (Created, Running, Stopped)
//	checkpoint   the engine snapshot and the input offsets it covers, written atomically
//
// That is a single node's store; a cluster keeps the same record and checkpoint in the region's
// metadata instead (store_meta.go). Jobs are a region's own: geo-DR does not replicate them
// (geo-redundant jobs deploy the same definition to each region explicitly).

// record is what job.json holds.
type record struct {
	Spec      Spec       `json:"spec"`
	Creator   Creator    `json:"creator,omitzero"` // who created it, which bounds what it touches
	Want      State      `json:"state"`            // Created, Running or Stopped: what the user asked for
	StartFrom string     `json:"startFrom,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	StoppedAt *time.Time `json:"stoppedAt,omitempty"`
	// version is, in a cluster, the metadata version of the job this record was read as
	// (meta.Job.Version); a change is made only if the job is still at it.
	version uint64
}

// checkpoint is a job's progress: for every input partition the offset to read next, and the
// engine snapshot taken after the events before those offsets. Rows the snapshot's events
// produced are in the sinks before the checkpoint is written.
type checkpoint struct {
	Offsets   map[string]map[int32]int64 `json:"offsets"` // input (lower case) → partition → next offset
	Taken     time.Time                  `json:"taken"`
	Watermark int64                      `json:"watermark"`
	// Dedup holds the event ids each dual-write input partition remembers (dedup.appendState).
	Dedup    map[string]map[int32][]byte `json:"dedup,omitempty"`
	Snapshot []byte                      `json:"-"`
}

var checkpointMagic = []byte("TJC1")

func (c *checkpoint) encode() ([]byte, error) {
	head, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	body := binary.AppendUvarint(nil, uint64(len(head)))
	body = append(body, head...)
	body = append(body, c.Snapshot...)
	out := append([]byte(nil), checkpointMagic...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return append(out, body...), nil
}

func decodeCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], checkpointMagic) {
		return nil, errors.New("not a job checkpoint")
	}
	body := b[8:]
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != binary.BigEndian.Uint32(b[4:8]) {
		return nil, errors.New("checkpoint checksum mismatch (a torn or corrupt write)")
	}
	n, k := binary.Uvarint(body)
	if k <= 0 || n > uint64(len(body)-k) {
		return nil, errors.New("checkpoint header length out of range")
	}
	c := &checkpoint{}
	if err := json.Unmarshal(body[k:k+int(n)], c); err != nil {
		return nil, fmt.Errorf("checkpoint header: %w", err)
	}
	c.Snapshot = body[k+int(n):]
	return c, nil
}

// jobStore keeps the job definitions and checkpoints: files under <data>/jobs on a single node
// (store), the region's replicated metadata in a cluster (metaStore, store_meta.go). lease is
// the job lease under which a runner writes its checkpoint, number the checkpoint's number
// under that lease; the file store ignores both.
type jobStore interface {
	names() ([]string, error)
	load(name string) (*record, error)
	create(r *record) error  // a new job; AlreadyExists if the name is taken
	save(r *record) error    // a changed definition or wanted state
	restart(r *record) error // save, dropping the checkpoint, for a start that does not resume
	remove(r *record) error
	loadCheckpoint(name string) (*checkpoint, error)
	saveCheckpoint(ctx context.Context, name string, lease, number uint64, c *checkpoint) (int, error)
	dropCheckpoint(ctx context.Context, name string, lease uint64) error
}

var (
	_ jobStore = store{}
	_ jobStore = metaStore{}
)

// store reads and writes job directories.
type store struct{ dir string }

func (s store) jobDir(name string) string { return filepath.Join(s.dir, name) }

func (s store) names() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(s.dir, e.Name(), "job.json")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

func (s store) load(name string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(s.jobDir(name), "job.json"))
	if err != nil {
		return nil, err
	}
	r := &record{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("job %s: job.json: %w", name, err)
	}
	return r, nil
}

func (s store) save(r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// Private to the node's user: job.json holds sink URLs with passwords (the file itself is
	// created 0600 by WriteFileDurable).
	if err := os.MkdirAll(s.jobDir(r.Spec.Name), 0o700); err != nil {
		return err
	}
	return log.WriteFileDurable(log.OSFS{}, filepath.Join(s.jobDir(r.Spec.Name), "job.json"), b)
}

func (s store) create(r *record) error { return s.save(r) }

// restart saves r; the runner drops the checkpoint when it starts without resuming.
func (s store) restart(r *record) error { return s.save(r) }

func (s store) remove(r *record) error { return os.RemoveAll(s.jobDir(r.Spec.Name)) }

func (s store) loadCheckpoint(name string) (*checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(s.jobDir(name), "checkpoint"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	c, err := decodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", name, err)
	}
	return c, nil
}

func (s store) saveCheckpoint(_ context.Context, name string, _, _ uint64, c *checkpoint) (int, error) {
	b, err := c.encode()
	if err != nil {
		return 0, err
	}
	return len(b), log.WriteFileDurable(log.OSFS{}, filepath.Join(s.jobDir(name), "checkpoint"), b)
}

func (s store) dropCheckpoint(_ context.Context, name string, _ uint64) error {
	err := os.Remove(filepath.Join(s.jobDir(name), "checkpoint"))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
