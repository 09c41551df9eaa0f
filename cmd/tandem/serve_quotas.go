package main

import (
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// addQuotaFlags registers the tenant quotas of `tandem serve` (broker.Quotas). For the counts
// with a tier table, 0 keeps the table (broker.TierQuotas) and a positive value replaces it
// for every tier; for every quota, -1 means no limit.
func addQuotaFlags(f *pflag.FlagSet, q *broker.Quotas) {
	f.IntVar(&q.HubsPerNamespace, "max-hubs-per-namespace", 0,
		"event hubs per namespace (0: by tier, basic 10, standard 100, premium 1000, dedicated 1000; -1: no limit)")
	f.IntVar(&q.GroupsPerHub, "max-groups-per-hub", 0,
		"consumer groups per event hub, $Default included (0: by tier as Event Hubs, basic 1, standard 20, premium 100, dedicated 1000; -1: no limit)")
	f.IntVar(&q.PartitionsPerNode, "max-partitions-per-node", broker.DefaultPartitionsPerNode,
		"partitions of all event hubs on this node together (-1: no limit)")
	f.IntVar(&q.MembersPerGroup, "max-group-members", broker.DefaultMembersPerGroup,
		"members of one Kafka consumer group (Kafka's group.max.size; -1: no limit)")
	f.IntVar(&q.MemberMetadataBytes, "max-join-metadata-bytes", broker.DefaultMemberMetadataBytes,
		"protocol metadata of one JoinGroup, and assignment of one member, in bytes (-1: no limit)")
	f.Int64Var(&q.GroupBytesPerNamespace, "max-group-bytes-per-namespace", broker.DefaultGroupBytesPerNamespace,
		"memory the consumer-group members of one namespace may hold, metadata and assignments included (-1: no limit)")
	f.DurationVar(&q.MaxSessionTimeout, "max-group-session-timeout", 0,
		"longest consumer-group session timeout a member may ask for (Kafka's group.max.session.timeout.ms; 0: 30m)")
}
