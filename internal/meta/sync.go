package meta

import (
	"maps"
	"slices"
	"time"
)

// SyncCommands returns the commands that make the replicated part of namespace local equal to
// that of primary (a snapshot of the primary's namespace): namespace network rules (without
// private endpoints, which each side owns) and labels, namespace and hub policies, event hubs
// and their consumer groups. A geo-DR secondary applies them, each wrapped in Replicated,
// when it starts replicating and whenever the primary's log no longer reaches back to its
// cursor. The result is in dependency order (a hub before its groups) and empty when the two
// already agree. A hub whose creation time differs is another incarnation of the name and is
// deleted and created again, so event data of the old one is never served as the new one.
func SyncCommands(local, primary *Namespace) []Command {
	ns := local.Name
	var out []Command
	rules := primary.NetworkRules.clone()
	rules.PrivateEndpoints = slices.Clone(local.NetworkRules.PrivateEndpoints)
	labelsDiffer := !maps.Equal(local.Labels, primary.Labels)
	if !rulesEqual(local.NetworkRules, rules) || labelsDiffer {
		u := UpdateNamespace{Namespace: ns, NetworkRules: &rules, Time: primary.UpdatedAt}
		if labelsDiffer {
			u.SetLabels = maps.Clone(primary.Labels)
			for k := range local.Labels {
				if _, ok := primary.Labels[k]; !ok {
					u.DeleteLabels = append(u.DeleteLabels, k)
				}
			}
			slices.Sort(u.DeleteLabels)
		}
		out = append(out, u)
	}
	out = append(out, syncPolicies(ns, "", local.Policies, primary.Policies, primary.UpdatedAt)...)

	for _, name := range slices.Sorted(maps.Keys(local.Hubs)) {
		if p, ok := primary.Hubs[name]; !ok || !p.CreatedAt.Equal(local.Hubs[name].CreatedAt) ||
			p.PartitionCount < local.Hubs[name].PartitionCount {
			out = append(out, DeleteHub{Namespace: ns, Hub: name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(primary.Hubs)) {
		p := primary.Hubs[name]
		l, ok := local.Hubs[name]
		if !ok || !p.CreatedAt.Equal(l.CreatedAt) || p.PartitionCount < l.PartitionCount {
			out = append(out, CreateHub{Namespace: ns, Hub: name, PartitionCount: p.PartitionCount,
				RetentionTime: p.RetentionTime, RetentionBytes: p.RetentionBytes, MaxEventBytes: p.MaxEventBytes,
				Status: p.Status, Time: p.CreatedAt})
			l = &Hub{Groups: map[string]*ConsumerGroup{DefaultGroup: {Name: DefaultGroup}}}
		} else if l.PartitionCount != p.PartitionCount || l.RetentionTime != p.RetentionTime ||
			l.RetentionBytes != p.RetentionBytes || l.MaxEventBytes != p.MaxEventBytes || l.Status != p.Status {
			rb := p.RetentionBytes
			out = append(out, UpdateHub{Namespace: ns, Hub: name, PartitionCount: p.PartitionCount,
				RetentionTime: p.RetentionTime, RetentionBytes: &rb, MaxEventBytes: p.MaxEventBytes,
				Status: p.Status, Time: p.UpdatedAt})
		}
		for _, g := range slices.Sorted(maps.Keys(l.Groups)) {
			if _, ok := p.Groups[g]; !ok {
				out = append(out, DeleteGroup{Namespace: ns, Hub: name, Group: g})
			}
		}
		for _, g := range slices.Sorted(maps.Keys(p.Groups)) {
			pg := p.Groups[g]
			if lg, ok := l.Groups[g]; !ok || (g != DefaultGroup && lg.UserMetadata != pg.UserMetadata) {
				if ok {
					out = append(out, DeleteGroup{Namespace: ns, Hub: name, Group: g})
				}
				out = append(out, CreateGroup{Namespace: ns, Hub: name, Group: g, UserMetadata: pg.UserMetadata, Time: pg.CreatedAt})
			}
		}
		out = append(out, syncPolicies(ns, name, l.Policies, p.Policies, p.UpdatedAt)...)
	}
	return out
}

func syncPolicies(ns, hub string, local, primary map[string]*Policy, t time.Time) []Command {
	var out []Command
	for _, name := range slices.Sorted(maps.Keys(local)) {
		if _, ok := primary[name]; !ok {
			out = append(out, DeletePolicy{Namespace: ns, Hub: hub, Name: name, Time: t})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(primary)) {
		p := primary[name]
		if l, ok := local[name]; ok && slices.Equal(l.Rights, p.Rights) && l.PrimaryKey == p.PrimaryKey && l.SecondaryKey == p.SecondaryKey {
			continue
		}
		out = append(out, PutPolicy{Namespace: ns, Hub: hub, Name: name, Rights: slices.Clone(p.Rights),
			PrimaryKey: p.PrimaryKey, SecondaryKey: p.SecondaryKey, Time: t})
	}
	return out
}

func rulesEqual(a, b NetworkRules) bool {
	return a.DefaultAction == b.DefaultAction && slices.Equal(a.IPRules, b.IPRules) &&
		slices.Equal(a.PrivateEndpoints, b.PrivateEndpoints)
}
