package eventhubs

import (
	"context"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Owner levels across a cluster. An AMQP receiver stays on the node it connected to, so a
// receiver with a higher epoch on node B must disconnect the one on node A. Every node
// announces each receiver it attaches (epoch or not) with a metadata command
// (meta.ClaimOwnerLevel, broker.ClaimOwnerLevel) and its receivers read the other nodes'
// announcements for their partition from the metadata log, in log order, once per node:
//
//   - a claim with an epoch disconnects the node's receivers without one or with an epoch no
//     higher (amqp:link:stolen), as a local one would;
//   - a claim that the node's own epoch receiver supersedes (a lower epoch, or none) is
//     answered with a new claim of that receiver (Reassert), which disconnects the claimer
//     where it is: a lower owner level attaches and is detached at once, as Event Hubs does.
//
// Nothing is kept in the metadata: a node that stops takes its receivers with it and no
// stale owner blocks anyone. The limit of receivers without an epoch stays per node. On a
// single node none of this runs: the registry alone decides, as before.

// superseded reports whether claim c disconnects local receiver o.
func superseded(c broker.OwnerLevelClaim, o *receiverEntry) bool {
	return c.Epoch != nil && (!o.hasEpoch || o.epoch <= *c.Epoch)
}

// supersedes reports whether local receiver o supersedes claim c (o answers it).
func supersedes(o *receiverEntry, c broker.OwnerLevelClaim) bool {
	return o.hasEpoch && (c.Epoch == nil || o.epoch > *c.Epoch)
}

// remoteClaim applies another node's claim c, newer than o's own, to local receiver o on k:
// it disconnects o if c supersedes it (stolen true), and reports whether o supersedes c and
// must answer it (reassert true). Only an epoch receiver answers, and a node has at most one
// live epoch receiver per partition and group.
func (r *epochRegistry) remoteClaim(k epochKey, o *receiverEntry, c broker.OwnerLevelClaim) (stolen, reassert bool) {
	k.group = strings.ToLower(k.group)
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.mu.parts[k]
	i := slices.Index(cur, o)
	if i < 0 { // stolen already, or closed
		return true, false
	}
	if !superseded(c, o) {
		return false, supersedes(o, c)
	}
	o.reason = remoteReason(k, c, o)
	close(o.stolen)
	if cur = slices.Delete(cur, i, i+1); len(cur) == 0 {
		delete(r.mu.parts, k)
	} else {
		r.mu.parts[k] = cur
	}
	return true, false
}

// remoteReason is the detach error of local receiver o superseded by claim c, in Event Hubs'
// words.
func remoteReason(k epochKey, c broker.OwnerLevelClaim, o *receiverEntry) *frames.Error {
	if !c.Reassert {
		return errorf(condStolen,
			"New receiver '%s' with higher epoch of '%d' is created hence current receiver '%s' with epoch '%s' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used",
			c.Receiver, *c.Epoch, o.name, epochText(o))
	}
	if !o.hasEpoch {
		return errorf(condStolen,
			"At least one receiver for partition %d of consumer group %s of event hub %s is created with epoch of '%d' ('%s'), and so non-epoch receiver '%s' is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected",
			k.partition, k.group, k.hub, *c.Epoch, c.Receiver, o.name)
	}
	return errorf(condStolen,
		"Receiver '%s' with epoch '%d' cannot be created because receiver '%s' with a higher epoch of '%d' already exists on partition %d of consumer group %s of event hub %s. Create the receiver with an epoch of at least %d, or close the other one",
		o.name, o.epoch, c.Receiver, *c.Epoch, k.partition, k.group, k.hub, *c.Epoch)
}

// claimOf is the announcement of local receiver e on k.
func claimOf(k epochKey, e *receiverEntry, reassert bool) meta.ClaimOwnerLevel {
	c := meta.ClaimOwnerLevel{Namespace: k.ns, Hub: k.hub, Group: k.group, Partition: k.partition,
		Receiver: e.name, ID: e.id, Reassert: reassert}
	if e.hasEpoch {
		ep := e.epoch
		c.Epoch = &ep
	}
	return c
}

// announce tells the region about a receiver just registered on k and returns the metadata
// index of its claim, from which its link reads the other nodes' (newer) claims; 0 on a
// single node. Older claims need no answer: a receiver they name that this one supersedes
// reads this claim and goes; one that supersedes this one answers it.
func (c *conn) announce(ctx context.Context, k epochKey, e *receiverEntry) (uint64, error) {
	if !c.h.b.InCluster() {
		return 0, nil
	}
	return c.h.b.ClaimOwnerLevel(ctx, claimOf(k, e, false))
}

// syncClaims applies the claims other nodes made on the link's partition after its cursor
// and returns a channel closed at the next metadata commit (nil on a single node).
func (l *receiverLink) syncClaims(ctx context.Context) <-chan struct{} {
	b := l.c.h.b
	_, ch := b.OwnerLevelCursor()
	if ch == nil {
		return nil
	}
	claims, next := b.OwnerLevelClaims(l.cursor, l.key.ns, l.key.hub, l.key.group, l.key.partition)
	l.cursor = next
	for _, c := range claims {
		stolen, reassert := l.c.h.epochs.remoteClaim(l.key, l.owner, c)
		if stolen {
			return ch
		}
		if !reassert || c.Index < l.answered { // an answer after c answers it too
			continue
		}
		idx, err := b.ClaimOwnerLevel(ctx, claimOf(l.key, l.owner, true))
		if err != nil {
			l.c.h.log.Warn("answering a lower receiver claim", "entity", l.ns+"/"+l.entity, "claim", c.Receiver, "node", c.Node, "err", err)
			continue
		}
		l.answered = idx
	}
	return ch
}
