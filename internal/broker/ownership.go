package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// Ownership is which event processor instance owns a partition for a consumer group (the
// Azure SDKs' checkpoint store; meta/ownership.go has the rules).
type Ownership struct {
	Partition    int32
	OwnerID      string // "" once its owner relinquished it
	ETag         string
	LastModified time.Time
}

// OwnershipClaim asks for a partition: it wins only while the partition's ownership still has
// ETag IfMatch, or, with IfMatch "", while the partition has no ownership at all.
type OwnershipClaim struct {
	Partition int32
	OwnerID   string
	IfMatch   string
}

// ClaimOwnership claims partitions of hub for group, each with optimistic concurrency, in
// one metadata change. It returns the claims that won, in the order given, with their new
// ETags; a claim whose ETag no longer matches is left out, which is not an error (as the
// Azure SDKs' checkpoint stores do). Errors are for a missing hub, group or partition and a
// malformed claim.
func (b *Broker) ClaimOwnership(ctx context.Context, ns, hub, group string, claims []OwnershipClaim) ([]Ownership, error) {
	cmd := meta.ClaimOwnership{Namespace: ns, Hub: hub, Group: group, Time: b.now()}
	for _, c := range claims {
		cmd.Claims = append(cmd.Claims, meta.OwnershipClaim{Partition: c.Partition, OwnerID: c.OwnerID, IfMatch: c.IfMatch, ETag: newETag()})
	}
	won := []Ownership{}
	view := func(s *meta.State) { // the outcome of this command, before any later one
		own, err := s.Ownerships(ns, group, hub)
		if err != nil {
			return
		}
		for _, c := range cmd.Claims {
			if o, ok := own[c.Partition]; ok && o.ETag == c.ETag {
				won = append(won, ownershipOut(c.Partition, o))
			}
		}
	}
	if err := b.proposeView(ctx, cmd, view); err != nil {
		return nil, err
	}
	return won, nil
}

// Ownerships returns the partition ownership of group on hub, by partition.
func (b *Broker) Ownerships(ns, hub, group string) (map[int32]Ownership, error) {
	var own map[int32]meta.Ownership
	var err error
	b.meta.View(func(s *meta.State) { own, err = s.Ownerships(ns, group, hub) })
	if err != nil {
		return nil, err
	}
	out := make(map[int32]Ownership, len(own))
	for p, o := range own {
		out[p] = ownershipOut(p, o)
	}
	return out, nil
}

func ownershipOut(p int32, o meta.Ownership) Ownership {
	return Ownership{Partition: p, OwnerID: o.OwnerID, ETag: o.ETag, LastModified: o.LastModified}
}

// newETag returns a fresh random ETag: 16 bytes, hex.
func newETag() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (it panics if it ever cannot read)
	return hex.EncodeToString(b[:])
}
