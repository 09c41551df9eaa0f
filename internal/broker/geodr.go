package broker

import (
	"context"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// This file is the broker's side of geo-DR: the metadata primitives internal/geodr builds the
// cross-region protocol on (alias configuration, the metadata log feed, applying replicated
// changes) and alias resolution for clients.

// Alias returns namespace ns's alias configuration, if it has one.
func (b *Broker) Alias(ns string) (meta.AliasConfig, bool) {
	var cfg meta.AliasConfig
	var ok bool
	b.meta.View(func(s *meta.State) {
		if n, err := s.Namespace(ns); err == nil && n.Alias != nil {
			cfg, ok = *n.Alias, true
		}
	})
	return cfg, ok
}

// AliasHolder finds the local namespace that holds alias name (case-insensitive, as host
// names are), with its configuration.
func (b *Broker) AliasHolder(name string) (string, meta.AliasConfig, bool) {
	if cfg, ok := b.hubs.Load().aliases[strings.ToLower(name)]; ok {
		return cfg.ns, cfg.cfg, true
	}
	return "", meta.AliasConfig{}, false
}

// Aliases returns every local namespace's alias configuration, by namespace.
func (b *Broker) Aliases() map[string]meta.AliasConfig {
	out := map[string]meta.AliasConfig{}
	for _, a := range b.hubs.Load().aliases {
		out[a.ns] = a.cfg
	}
	return out
}

// NamespaceTaken reports whether name is used here as a namespace or an alias: an alias is a
// host name clients connect through, so it may collide with neither.
func (b *Broker) NamespaceTaken(name string) bool {
	if _, _, ok := b.AliasHolder(name); ok {
		return true
	}
	_, err := b.resolveNamespace(name)
	return err == nil
}

// SetAlias records namespace ns's side of an alias. The epoch never goes back.
func (b *Broker) SetAlias(ctx context.Context, ns string, cfg meta.AliasConfig) error {
	return b.propose(ctx, meta.SetAlias{Namespace: ns, Alias: cfg, Time: b.now()})
}

// ClearAlias removes namespace ns's alias configuration.
func (b *Broker) ClearAlias(ctx context.Context, ns string) error {
	return b.propose(ctx, meta.ClearAlias{Namespace: ns, Time: b.now()})
}

// RetireAlias removes namespace ns's alias configuration and reserves the alias name in this
// region for the pairing it belonged to (see meta.AliasReservation).
func (b *Broker) RetireAlias(ctx context.Context, ns string) error {
	return b.propose(ctx, meta.RetireAlias{Namespace: ns, Time: b.now()})
}

// ReleaseAlias drops the reservation of alias name in this region.
func (b *Broker) ReleaseAlias(ctx context.Context, name string) error {
	return b.propose(ctx, meta.ReleaseAlias{Alias: name, Time: b.now()})
}

// AliasReservation returns the reservation of alias name in this region, if any.
func (b *Broker) AliasReservation(name string) (meta.AliasReservation, bool) {
	var r meta.AliasReservation
	var ok bool
	b.meta.View(func(s *meta.State) { r, ok = s.AliasReservation(name) })
	return r, ok
}

// NamespaceState returns a copy of namespace ns's metadata without committed offsets and
// partition ownership (which geo-DR does not replicate), and the metadata log index it reflects.
func (b *Broker) NamespaceState(ns string) (*meta.Namespace, uint64, error) {
	var n *meta.Namespace
	var idx uint64
	var err error
	b.meta.View(func(s *meta.State) {
		n, err = s.Namespace(ns)
		idx = s.Index()
	})
	if err != nil {
		return nil, 0, err
	}
	n.Offsets, n.Ownership = nil, nil
	return n, idx, nil
}

// MetaLog returns up to max metadata log entries after index after, and the index of the last
// committed entry. Entries compacted into a snapshot give errcode.OffsetOutOfRange.
func (b *Broker) MetaLog(after uint64, max int) ([]meta.Entry, uint64, error) {
	head := b.meta.Index()
	if after >= head {
		return nil, head, nil
	}
	entries, err := b.meta.ReadFrom(after, max)
	return entries, head, err
}

// WaitMeta blocks until the metadata log reaches index, or ctx ends.
func (b *Broker) WaitMeta(ctx context.Context, index uint64) error { return b.meta.Wait(ctx, index) }

// ApplyReplicated applies changes replicated from a geo-DR primary, in order and in one
// metadata write. It stops at the first change that does not apply and returns its error;
// the changes before it stay applied. Files of event hubs the changes delete (or replace by
// a new incarnation) are removed, as a local delete would.
func (b *Broker) ApplyReplicated(ctx context.Context, changes []meta.Replicated) error {
	if len(changes) == 0 {
		return nil
	}
	cmds := make([]meta.Command, len(changes))
	for i, c := range changes {
		cmds[i] = c
	}
	before := b.hubs.Load()
	err := b.meta.ProposeBatch(ctx, cmds)
	b.refreshHubs()
	after := b.hubs.Load()
	eachChanged(before, after, func(old, cur HubInfo, ok bool) {
		switch {
		case !ok || cur.Incarnation != old.Incarnation:
			b.removeHubFiles(old)
		case cur.RetentionTime != old.RetentionTime || cur.RetentionBytes != old.RetentionBytes:
			b.closeHub(old.Namespace, old.Name)
		}
	})
	return err
}

// CheckAliasActive refuses a data-plane request of a client that came in through an alias
// that is not active on this side: the client must refresh its metadata (Kafka) or follow the
// redirect (HTTP) to the region that holds the alias.
func (b *Broker) CheckAliasActive(p Principal) error {
	if p.Alias == "" {
		return nil
	}
	holder, cfg, ok := b.AliasHolder(p.Alias)
	if !ok || holder != p.Namespace {
		return errcode.New(errcode.Unauthorized, "alias %q no longer exists on this region; use a namespace connection string", p.Alias)
	}
	if cfg.Active() {
		return nil
	}
	where := "another region"
	if peer := cfg.ActivePeer(); peer != nil {
		where = "region " + peer.Region + " (namespace " + peer.Namespace + ")"
	}
	return errcode.New(errcode.AliasNotActive,
		"alias %q is active in %s, not here (epoch %d); refresh metadata and connect there", p.Alias, where, cfg.Epoch)
}
