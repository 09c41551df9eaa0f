package meta

import (
	"maps"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Partition ownership of a consumer group: which event processor instance (the Azure SDKs'
// EventProcessor / Processor) reads a partition for the group. The SDKs balance partitions
// among processor instances through a checkpoint store, where each instance claims
// partitions with optimistic concurrency: a claim names the ETag of the ownership it read
// and wins only if that is still the current one (Azure Blob storage's If-Match), and a
// claim of a partition nobody ever owned wins only if still nobody does (If-None-Match: *).
// A claim that loses is not an error: the SDK simply does not get the partition.
//
// Every value is the proposer's: the new ETag (random) and the time travel in the command,
// so applying a claim is deterministic on every replica. A claim is checked against the
// ETag at apply time, so of two claims made with the same ETag exactly one wins, on a single
// node and in a cluster alike, and a claim raft applies twice wins at most once.
//
// Ownership is a region's own, like committed offsets: geo-DR does not replicate it (a
// processor after a failover claims again, as it does after its ownership expired).
// Deleting a consumer group or a hub drops its ownership.

// Limits of ownership claims.
const (
	MaxOwnerIDBytes = 256 // an SDK owner id is a UUID
	MaxETagBytes    = 128
)

// Ownership is the owner of one partition for one consumer group.
type Ownership struct {
	// OwnerID is the processor instance's id; "" is a partition its owner relinquished.
	OwnerID string `json:"ownerId,omitempty"`
	// ETag changes with every successful claim.
	ETag string `json:"etag"`
	// LastModified is the time of the last successful claim (the proposer's clock). The SDKs
	// take an ownership older than their expiry interval as free.
	LastModified time.Time `json:"lastModified"`
}

// OwnershipClaim asks for one partition.
type OwnershipClaim struct {
	Partition int32  `json:"partition"`
	OwnerID   string `json:"ownerId,omitempty"`
	// IfMatch is the ETag of the ownership the claimer read; "" claims a partition that has
	// no ownership at all (a relinquished one has an ownership with an empty OwnerID).
	IfMatch string `json:"ifMatch,omitempty"`
	// ETag is the ownership's new ETag if the claim wins, chosen by the proposer.
	ETag string `json:"etag"`
}

// ClaimOwnership claims partitions of hub for group. Each claim wins or loses on its own
// (see OwnershipClaim); a lost claim changes nothing and is not an error. The command fails
// only when it is malformed or the hub, the group or a partition does not exist. Whether a
// claim won is seen in the state right after the command applied: the partition's ETag is
// then the claim's.
type ClaimOwnership struct {
	Namespace string           `json:"ns"`
	Hub       string           `json:"hub"`
	Group     string           `json:"group"`
	Claims    []OwnershipClaim `json:"claims"`
	Time      time.Time        `json:"time"`
}

// TypeClaimOwnership is ClaimOwnership's type.
const TypeClaimOwnership CommandType = "ClaimOwnership"

// Type implements Command.
func (ClaimOwnership) Type() CommandType { return TypeClaimOwnership }

func (c ClaimOwnership) check(s *State) error {
	if _, err := s.group(c.Namespace, c.Hub, c.Group); err != nil {
		return err
	}
	h := s.namespaces[c.Namespace].Hubs[c.Hub]
	if len(c.Claims) == 0 || len(c.Claims) > MaxPartitionCount {
		return errcode.New(errcode.InvalidArgument,
			"an ownership claim names %d partitions; claim 1 to %d at a time", len(c.Claims), MaxPartitionCount)
	}
	seen := make(map[int32]bool, len(c.Claims))
	for _, cl := range c.Claims {
		if err := checkPartition(c.Namespace, h, cl.Partition); err != nil {
			return err
		}
		if seen[cl.Partition] {
			return errcode.New(errcode.InvalidArgument,
				"an ownership claim names partition %d twice; claim each partition once", cl.Partition)
		}
		seen[cl.Partition] = true
		if len(cl.OwnerID) > MaxOwnerIDBytes {
			return errcode.New(errcode.InvalidArgument,
				"owner id for partition %d is %d bytes; the most allowed is %d", cl.Partition, len(cl.OwnerID), MaxOwnerIDBytes)
		}
		if cl.ETag == "" || len(cl.ETag) > MaxETagBytes || len(cl.IfMatch) > MaxETagBytes {
			return errcode.New(errcode.InvalidArgument,
				"an ownership claim of partition %d needs a new ETag of 1 to %d bytes (and an If-Match ETag of at most %d)",
				cl.Partition, MaxETagBytes, MaxETagBytes)
		}
	}
	return nil
}

func (c ClaimOwnership) apply(s *State) {
	n := s.namespaces[c.Namespace]
	if n.Ownership == nil {
		n.Ownership = map[string]map[string]map[int32]Ownership{}
	}
	hubs := n.Ownership[c.Group]
	if hubs == nil {
		hubs = map[string]map[int32]Ownership{}
		n.Ownership[c.Group] = hubs
	}
	parts := hubs[c.Hub]
	if parts == nil {
		parts = map[int32]Ownership{}
		hubs[c.Hub] = parts
	}
	for _, cl := range c.Claims {
		cur, exists := parts[cl.Partition]
		if exists != (cl.IfMatch != "") || cur.ETag != cl.IfMatch {
			continue // someone else changed it first: the claim loses
		}
		parts[cl.Partition] = Ownership{OwnerID: cl.OwnerID, ETag: cl.ETag, LastModified: c.Time}
	}
	n.pruneOwnership(c.Group, c.Hub)
}

// Ownerships returns the partition ownership of group for hub, by partition. The map is
// empty when the group exists but nothing was ever claimed.
func (s *State) Ownerships(ns, group, hub string) (map[int32]Ownership, error) {
	if _, err := s.group(ns, hub, group); err != nil {
		return nil, err
	}
	return maps.Clone(s.namespaces[ns].Ownership[group][hub]) /* nil-safe */, nil
}

// dropOwnership deletes group's ownership of hub's partitions and prunes empty maps.
func (n *Namespace) dropOwnership(group, hub string) {
	delete(n.Ownership[group], hub)
	n.pruneOwnership(group, hub)
}

func (n *Namespace) pruneOwnership(group, hub string) {
	if parts, ok := n.Ownership[group][hub]; ok && len(parts) == 0 {
		delete(n.Ownership[group], hub)
	}
	if hubs, ok := n.Ownership[group]; ok && len(hubs) == 0 {
		delete(n.Ownership, group)
	}
	if len(n.Ownership) == 0 {
		n.Ownership = nil
	}
}

// hasOwnership reports whether any namespace of s records an ownership (snapshot version 4).
func (s *State) hasOwnership() bool {
	for _, n := range s.namespaces {
		if len(n.Ownership) > 0 {
			return true
		}
	}
	return false
}

func cloneOwnership(o map[string]map[string]map[int32]Ownership) map[string]map[string]map[int32]Ownership {
	if o == nil {
		return nil
	}
	c := make(map[string]map[string]map[int32]Ownership, len(o))
	for g, hubs := range o {
		c[g] = make(map[string]map[int32]Ownership, len(hubs))
		for h, parts := range hubs {
			c[g][h] = maps.Clone(parts)
		}
	}
	return c
}
