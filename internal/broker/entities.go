package broker

import (
	"context"
	"errors"
	"sort"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// CreateConsumerGroup creates a consumer group on a hub, within the groups-per-hub quota.
func (b *Broker) CreateConsumerGroup(ctx context.Context, ns, hub, name, userMetadata string) (ConsumerGroupInfo, error) {
	cmd := meta.CreateGroup{Namespace: ns, Hub: hub, Group: name, UserMetadata: userMetadata, Time: b.now()}
	var g ConsumerGroupInfo
	view := func(s *meta.State) { // the group as this command left it, not a later re-read
		if mg, err := s.Group(ns, hub, name); err == nil {
			g = ConsumerGroupInfo{Name: mg.Name, UserMetadata: mg.UserMetadata, CreatedAt: mg.CreatedAt}
		}
	}
	if err := b.proposeWithin(ctx, func() error { return b.checkGroupQuota(ns, hub, name) }, cmd, view); err != nil {
		return ConsumerGroupInfo{}, err
	}
	return g, nil
}

// ConsumerGroup returns one consumer group of a hub.
func (b *Broker) ConsumerGroup(ns, hub, name string) (ConsumerGroupInfo, error) {
	var g *meta.ConsumerGroup
	var err error
	b.meta.View(func(s *meta.State) { g, err = s.Group(ns, hub, name) })
	if err != nil {
		return ConsumerGroupInfo{}, err
	}
	return ConsumerGroupInfo{Name: g.Name, UserMetadata: g.UserMetadata, CreatedAt: g.CreatedAt}, nil
}

// ConsumerGroups lists the consumer groups of a hub, sorted by name.
func (b *Broker) ConsumerGroups(ns, hub string) ([]ConsumerGroupInfo, error) {
	var h *meta.Hub
	var err error
	b.meta.View(func(s *meta.State) { h, err = s.Hub(ns, hub) })
	if err != nil {
		return nil, err
	}
	out := make([]ConsumerGroupInfo, 0, len(h.Groups))
	for _, g := range h.Groups {
		out = append(out, ConsumerGroupInfo{Name: g.Name, UserMetadata: g.UserMetadata, CreatedAt: g.CreatedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteConsumerGroup deletes a consumer group and its checkpoints on that hub.
func (b *Broker) DeleteConsumerGroup(ctx context.Context, ns, hub, name string) error {
	return b.propose(ctx, meta.DeleteGroup{Namespace: ns, Hub: hub, Group: name})
}

// CommitOffsets stores checkpoints of group on hub. A commit for a group the hub does not
// have creates it there (as Event Hubs' Kafka endpoint does), within the groups-per-hub
// quota; the caller decides whether its principal may create groups (see GroupExists).
func (b *Broker) CommitOffsets(ctx context.Context, ns, group, hub string, commits []OffsetCommit) error {
	h, err := b.Hub(ns, hub)
	if err != nil {
		return err
	}
	cmd := meta.CommitOffsets{Namespace: ns, Group: group, Hub: hub, Time: b.now()}
	for _, c := range commits {
		if c.Partition < 0 || c.Partition >= h.Partitions {
			return errcode.New(errcode.PartitionNotFound,
				"partition %d does not exist in event hub %s/%s, which has partitions 0 to %d", c.Partition, ns, hub, h.Partitions-1)
		}
		cmd.Offsets = append(cmd.Offsets, meta.PartitionOffset{Partition: c.Partition, Offset: c.Offset, Metadata: c.Metadata})
	}
	commit := func() error { return b.propose(ctx, cmd) }
	if b.cl != nil {
		commit = func() error { return b.proposeOnLeader(ctx, cmd) }
	}
	if b.GroupExists(ns, hub, group) {
		return commit()
	}
	b.quotaMu.Lock()
	defer b.quotaMu.Unlock()
	if err := b.checkGroupQuota(ns, hub, group); err != nil {
		return err
	}
	return commit()
}

// proposeOnLeader proposes a group coordinator's command on this node only while it leads the
// metadata (meta.Backend.ProposeOnLeader): never forwarded, so a coordinator that lost its
// leadership between its check and its proposal cannot have a stale commit applied after the
// new coordinator's. A node that no longer leads answers NotCoordinator.
func (b *Broker) proposeOnLeader(ctx context.Context, c meta.Command) error {
	if err := b.checkNotSecondary(c); err != nil {
		return err
	}
	_, err := b.meta.ProposeOnLeader(ctx, c)
	var nl *meta.NotLeaderError
	if errors.As(err, &nl) {
		return errcode.New(errcode.NotCoordinator, "this node stopped coordinating consumer groups (the region's metadata leader moved); find the coordinator again and retry the commit")
	}
	return err
}

// SetCheckpoint stores one checkpoint of an existing group (the HTTP checkpoint API): a
// missing group is NotFound and is not created, unlike CommitOffsets. It returns the
// checkpoint this call wrote.
func (b *Broker) SetCheckpoint(ctx context.Context, ns, hub, group string, c OffsetCommit) (Checkpoint, error) {
	cmd := meta.CommitOffsets{Namespace: ns, Group: group, Hub: hub, Time: b.now(), GroupMustExist: true,
		Offsets: []meta.PartitionOffset{{Partition: c.Partition, Offset: c.Offset, Metadata: c.Metadata}}}
	if err := b.propose(ctx, cmd); err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Offset: c.Offset, Metadata: c.Metadata, CommitTime: cmd.Time}, nil
}

// GroupExists reports whether hub ns/hub has consumer group name, without copying anything.
func (b *Broker) GroupExists(ns, hub, name string) bool {
	var exists bool
	b.meta.View(func(s *meta.State) { _, exists, _ = s.GroupCount(ns, hub, name) })
	return exists
}

// Checkpoints returns the checkpoints of group on hub, by partition.
func (b *Broker) Checkpoints(ns, hub, group string) (map[int32]Checkpoint, error) {
	var offs map[int32]meta.Checkpoint
	var err error
	b.meta.View(func(s *meta.State) { offs, err = s.Offsets(ns, group, hub) })
	if err != nil {
		return nil, err
	}
	out := make(map[int32]Checkpoint, len(offs))
	for p, c := range offs {
		out[p] = Checkpoint{Offset: c.Offset, Metadata: c.Metadata, CommitTime: c.CommitTime}
	}
	return out, nil
}

// GroupOffsets returns every checkpoint of a namespace-wide group name: hub → partition.
func (b *Broker) GroupOffsets(ns, group string) map[string]map[int32]Checkpoint {
	out := map[string]map[int32]Checkpoint{}
	for _, h := range b.Hubs(ns) {
		cps, err := b.Checkpoints(ns, h.Name, group)
		if err == nil && len(cps) > 0 {
			out[h.Name] = cps
		}
	}
	return out
}

// Policies lists the shared access policies of a namespace (hub "") or of a hub.
func (b *Broker) Policies(ns, hub string) ([]PolicyInfo, error) {
	var out []PolicyInfo
	var err error
	b.meta.View(func(s *meta.State) {
		var pols map[string]*meta.Policy
		if hub == "" {
			var n *meta.Namespace
			if n, err = s.Namespace(ns); err == nil {
				pols = n.Policies
			}
		} else {
			var h *meta.Hub
			if h, err = s.Hub(ns, hub); err == nil {
				pols = h.Policies
			}
		}
		for _, p := range pols {
			out = append(out, policyInfo(p))
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func policyInfo(p *meta.Policy) PolicyInfo {
	info := PolicyInfo{Name: p.Name, PrimaryKey: p.PrimaryKey, SecondaryKey: p.SecondaryKey}
	for _, r := range p.Rights {
		info.Rights = append(info.Rights, string(r))
	}
	return info
}

// Policy returns one shared access policy.
func (b *Broker) Policy(ns, hub, name string) (PolicyInfo, error) {
	var p *meta.Policy
	var err error
	b.meta.View(func(s *meta.State) { p, err = s.Policy(ns, hub, name) })
	if err != nil {
		return PolicyInfo{}, err
	}
	return policyInfo(p), nil
}

// PutPolicy creates a policy with fresh keys, or changes the rights of an existing one.
func (b *Broker) PutPolicy(ctx context.Context, ns, hub, name string, rights []string) (PolicyInfo, error) {
	rs, err := auth.ParseRights(rights...)
	if err != nil {
		return PolicyInfo{}, err
	}
	cmd := meta.PutPolicy{Namespace: ns, Hub: hub, Name: name, Rights: rs, Time: b.now()}
	if _, err := b.Policy(ns, hub, name); errcode.Is(err, errcode.NotFound) {
		if cmd.PrimaryKey, err = auth.GenerateKey(); err != nil {
			return PolicyInfo{}, err
		}
		if cmd.SecondaryKey, err = auth.GenerateKey(); err != nil {
			return PolicyInfo{}, err
		}
	}
	if err := b.propose(ctx, cmd); err != nil {
		return PolicyInfo{}, err
	}
	return b.Policy(ns, hub, name)
}

// DeletePolicy deletes a shared access policy.
func (b *Broker) DeletePolicy(ctx context.Context, ns, hub, name string) error {
	return b.propose(ctx, meta.DeletePolicy{Namespace: ns, Hub: hub, Name: name, Time: b.now()})
}

// RegenerateKey replaces a policy's PrimaryKey or SecondaryKey.
func (b *Broker) RegenerateKey(ctx context.Context, ns, hub, name, keyType string) (PolicyInfo, error) {
	key, err := auth.GenerateKey()
	if err != nil {
		return PolicyInfo{}, err
	}
	cmd := meta.RegenerateKey{Namespace: ns, Hub: hub, Name: name, KeyType: meta.KeyType(keyType), Key: key, Time: b.now()}
	if err := b.propose(ctx, cmd); err != nil {
		return PolicyInfo{}, err
	}
	return b.Policy(ns, hub, name)
}
