package broker

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Quotas bound what the tenants of a node may create and hold. A zero field takes the
// default (for hubs per namespace and groups per hub, the tier table below); a negative one
// means no limit. Creations that would exceed a quota fail with errcode.QuotaExceeded (HTTP
// 403, Kafka POLICY_VIOLATION) naming the limit and the flag that raises it.
type Quotas struct {
	// HubsPerNamespace, when positive, replaces the tier table's event hubs per namespace.
	HubsPerNamespace int
	// GroupsPerHub, when positive, replaces the tier table's consumer groups per event hub
	// ($Default counts, as in Event Hubs).
	GroupsPerHub int
	// PartitionsPerNode bounds the partitions of every event hub on the node together
	// (default DefaultPartitionsPerNode): each is a directory of open segment files.
	PartitionsPerNode int
	// MembersPerGroup bounds the members of one Kafka consumer group (Kafka's group.max.size;
	// default DefaultMembersPerGroup).
	MembersPerGroup int
	// MemberMetadataBytes bounds the protocol metadata one JoinGroup may offer, all protocols
	// together (default DefaultMemberMetadataBytes).
	MemberMetadataBytes int
	// GroupBytesPerNamespace bounds what the consumer-group members of one namespace hold in
	// memory, their metadata and assignments included, until they leave or their session
	// expires (default DefaultGroupBytesPerNamespace).
	GroupBytesPerNamespace int64
	// MaxSessionTimeout bounds a member's session timeout (Kafka's
	// group.max.session.timeout.ms; default 30 minutes).
	MaxSessionTimeout time.Duration
}

// Defaults of the quotas that have no tier table.
const (
	DefaultPartitionsPerNode      = 10000
	DefaultMembersPerGroup        = 1000
	DefaultMemberMetadataBytes    = 1 << 20
	DefaultGroupBytesPerNamespace = 64 << 20
)

// TierQuota is what one tier allows.
type TierQuota struct {
	HubsPerNamespace int
	GroupsPerHub     int
}

// TierQuotas follows Event Hubs' quotas (learn.microsoft.com/azure/event-hubs/event-hubs-quotas)
// for consumer groups per hub (basic 1, standard 20, premium 100, dedicated 1000) and for hubs
// per namespace on basic (10), premium (100 per processing unit; Tandem has no units and
// allows ten's worth) and dedicated (1000). Standard allows 100 hubs instead of Azure's 10:
// it is Tandem's default tier, the one `--dev` and most deployments use for every hub;
// --max-hubs-per-namespace=10 gives Azure's number.
var TierQuotas = map[meta.Tier]TierQuota{
	meta.Basic:     {HubsPerNamespace: 10, GroupsPerHub: 1},
	meta.Standard:  {HubsPerNamespace: 100, GroupsPerHub: 20},
	meta.Premium:   {HubsPerNamespace: 1000, GroupsPerHub: 100},
	meta.Dedicated: {HubsPerNamespace: 1000, GroupsPerHub: 1000},
}

// groupConfig is the consumer-group coordinator's share of the quotas.
func (q Quotas) groupConfig() group.Config {
	return group.Config{
		MaxSessionTimeout:    q.MaxSessionTimeout,
		MaxGroupSize:         orDefault(q.MembersPerGroup, DefaultMembersPerGroup),
		MaxMemberMetadata:    orDefault(q.MemberMetadataBytes, DefaultMemberMetadataBytes),
		MaxBytesPerNamespace: int64(orDefault(int(q.GroupBytesPerNamespace), DefaultGroupBytesPerNamespace)),
	}
}

// orDefault is v when positive, def when zero, and 0 (no limit) when negative.
func orDefault(v, def int) int {
	switch {
	case v > 0:
		return v
	case v < 0:
		return 0
	}
	return def
}

func tierLimit(override int, tier meta.Tier, pick func(TierQuota) int) int {
	if override != 0 {
		return orDefault(override, 0)
	}
	t, ok := TierQuotas[tier]
	if !ok {
		t = TierQuotas[meta.Standard]
	}
	return pick(t)
}

// checkHubQuota reports whether ns may get one more event hub with partitions partitions.
// Call it with quotaMu held, in the same critical section as the proposal.
func (b *Broker) checkHubQuota(ns string, partitions int32) error {
	var err error
	b.meta.View(func(s *meta.State) {
		f, e := s.NamespaceFacts(ns)
		if e != nil {
			return // the command's own check names the missing namespace
		}
		limit := tierLimit(b.opts.Quotas.HubsPerNamespace, f.Tier, func(t TierQuota) int { return t.HubsPerNamespace })
		if limit > 0 && f.Hubs >= limit {
			err = errcode.New(errcode.QuotaExceeded,
				"namespace %q (%s tier) has %d event hubs, the most it may have; delete one, or raise the limit with 'tandem serve --max-hubs-per-namespace'",
				ns, f.Tier, f.Hubs)
			return
		}
		err = b.checkPartitionsLocked(s, int64(partitions))
	})
	return err
}

// checkPartitionsLocked reports whether the node may get more partitions (inside View).
func (b *Broker) checkPartitionsLocked(s *meta.State, more int64) error {
	limit := orDefault(b.opts.Quotas.PartitionsPerNode, DefaultPartitionsPerNode)
	if limit <= 0 || more <= 0 {
		return nil
	}
	if have := s.TotalPartitions(); have+more > int64(limit) {
		return errcode.New(errcode.QuotaExceeded,
			"this node serves %d partitions and may serve at most %d; %d more do not fit: delete event hubs or use fewer partitions, or raise 'tandem serve --max-partitions-per-node'",
			have, limit, more)
	}
	return nil
}

// checkGroupQuota reports whether hub may get consumer group name (nil when it exists).
func (b *Broker) checkGroupQuota(ns, hub, name string) error {
	var err error
	b.meta.View(func(s *meta.State) {
		n, exists, e := s.GroupCount(ns, hub, name)
		if e != nil || exists {
			return // the command's own check says what is wrong
		}
		f, _ := s.NamespaceFacts(ns)
		limit := tierLimit(b.opts.Quotas.GroupsPerHub, f.Tier, func(t TierQuota) int { return t.GroupsPerHub })
		if limit > 0 && n >= limit {
			err = errcode.New(errcode.QuotaExceeded,
				"event hub %s/%s (%s tier) has %d consumer groups, the most it may have; delete one or reuse an existing group, or raise the limit with 'tandem serve --max-groups-per-hub'",
				ns, hub, f.Tier, n)
		}
	})
	return err
}

// proposeWithin runs check and, when it passes, proposes c, with quotaMu held so that
// concurrent creations cannot pass the same check together.
func (b *Broker) proposeWithin(ctx context.Context, check func() error, c meta.Command, view func(*meta.State)) error {
	b.quotaMu.Lock()
	defer b.quotaMu.Unlock()
	if err := check(); err != nil {
		return err
	}
	return b.proposeView(ctx, c, view)
}
