package eventhubs

import (
	"context"
	"errors"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// replicaCatchUp bounds how long a receiver attaching on a follower waits for the follower's
// replica to reach a position the client names past its end: the client may have read up to
// there on another node (its leader, before a failover), and a follower applies committed
// entries a moment after the leader does.
const replicaCatchUp = 5 * time.Second

// resolveStart resolves a receiver's start position on p. In a cluster, a position past the
// end of this node's replica is given replicaCatchUp to appear before it is refused.
func resolveStart(ctx context.Context, cluster bool, p *broker.Partition, pos StartPosition) (int64, error) {
	var deadline <-chan time.Time
	for {
		changed := p.Changed()
		start, err := pos.Resolve(Bounds{Start: p.StartOffset(), End: p.EndOffset(), OffsetForTime: p.OffsetForTime})
		var ahead *ErrPositionAhead
		if err == nil || !cluster || !errors.As(err, &ahead) {
			return start, err
		}
		if deadline == nil {
			t := time.NewTimer(replicaCatchUp)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-changed:
		case <-deadline:
			return start, err
		case <-ctx.Done():
			return start, err
		}
	}
}
