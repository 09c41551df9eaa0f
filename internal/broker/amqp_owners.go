package broker

import (
	"context"
	"errors"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Receiver owner levels across a cluster (meta.ClaimOwnerLevel): the AMQP front end announces
// each receiver it attaches and reads the other nodes' announcements from the metadata log.
// On a single node there is nothing to announce: every call here is free and returns nothing.

// OwnerLevelClaim is a receiver's announcement (meta.ClaimOwnerLevel) and its metadata index.
type OwnerLevelClaim struct {
	meta.ClaimOwnerLevel
	Index uint64
}

// ownerClaimWait bounds a claim's proposal when its ctx has no earlier deadline.
const ownerClaimWait = 5 * time.Second

// ownerClaimReadBatch is how many metadata entries one read of the log takes.
const ownerClaimReadBatch = 512

// ClaimOwnerLevel announces a receiver to every node of the region (its Node is set to this
// node's id) and returns the claim's metadata index once this node has applied it. On a
// single node it does nothing.
func (b *Broker) ClaimOwnerLevel(ctx context.Context, c meta.ClaimOwnerLevel) (uint64, error) {
	if b.cl == nil {
		return 0, nil
	}
	c.Node = b.cl.self
	ctx, cancel := context.WithTimeout(ctx, ownerClaimWait)
	defer cancel()
	idx, err := b.meta.Propose(ctx, c)
	if err != nil {
		var ec *errcode.Error
		if errors.As(err, &ec) && ec.Code != errcode.Unavailable && ec.Code != errcode.Timeout {
			return 0, err
		}
		return 0, errcode.New(errcode.Unavailable, "announcing receiver %q of partition %d of %s/%s to the region failed (no metadata quorum reachable?): %v; retry",
			c.Receiver, c.Partition, c.Namespace, c.Hub, err)
	}
	return idx, nil
}

// OwnerLevelCursor returns the metadata index from which OwnerLevelClaims reads and a channel
// closed at the next metadata commit; a nil channel on a single node (nothing ever comes).
func (b *Broker) OwnerLevelCursor() (uint64, <-chan struct{}) {
	if b.cl == nil {
		return 0, nil
	}
	ch := b.cl.rs.Changed()
	return b.meta.Index(), ch
}

// OwnerLevelClaims returns, in log order, the claims other nodes made for partition part of
// group on ns/hub after metadata index after, and the index to continue from. A cursor that
// fell behind the log's start (a snapshot replaced it) skips to the end: the claims it missed
// were overtaken by later ones or by the receivers' own reads.
func (b *Broker) OwnerLevelClaims(after uint64, ns, hub, group string, part int32) ([]OwnerLevelClaim, uint64) {
	if b.cl == nil {
		return nil, after
	}
	var out []OwnerLevelClaim
	for {
		ents, err := b.meta.ReadFrom(after, ownerClaimReadBatch)
		if err != nil {
			b.log.Warn("reading receiver owner claims from the metadata log", "after", after, "err", err)
			return out, b.meta.Index()
		}
		if len(ents) == 0 {
			return out, after
		}
		for _, e := range ents {
			after = e.Index
			c, ok := e.Command.(meta.ClaimOwnerLevel)
			if !ok || c.Node == b.cl.self || c.Namespace != ns || c.Hub != hub || c.Group != group || c.Partition != part {
				continue
			}
			out = append(out, OwnerLevelClaim{ClaimOwnerLevel: c, Index: e.Index})
		}
	}
}
