package broker

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// producerIDBlock is how many producer ids are reserved per write of the counter file.
const producerIDBlock = 1000

// producerIDs hands out idempotent-producer ids that are never reused, across restarts:
// a block is reserved durably (write, fsync, rename) before any id in it is given out.
type producerIDs struct {
	path string
	mu   sync.Mutex
	next int64
	end  int64  // exclusive end of the reserved block
	node uint64 // cluster node id; 0 on a single node
}

func openProducerIDs(dir string) (*producerIDs, error) {
	p := &producerIDs{path: filepath.Join(dir, "producer-ids")}
	b, err := os.ReadFile(p.path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, fmt.Errorf("reading producer id counter: %w", err)
	case len(b) != 8:
		return nil, fmt.Errorf("producer id counter %s is %d bytes, want 8; restore it or remove it only if no idempotent producer is running", p.path, len(b))
	default:
		p.next = int64(binary.BigEndian.Uint64(b))
	}
	p.end = p.next
	return p, nil
}

func (p *producerIDs) allocate() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == p.end {
		end := p.end + producerIDBlock
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(end))
		if err := seglog.WriteFileDurableMode(seglog.OSFS{}, p.path, b[:], privateFile); err != nil {
			return 0, fmt.Errorf("reserving producer ids: %w", err)
		}
		p.end = end
	}
	id := p.next
	p.next++
	if p.node != 0 {
		// In a cluster every node allocates from its own counter: the node id in the low
		// bits keeps the ids of different nodes apart.
		return id<<16 | int64(p.node), nil
	}
	return id, nil
}

// maxClusterNodeID is the largest cluster node id whose producer ids stay distinct.
const maxClusterNodeID = 1<<16 - 1
