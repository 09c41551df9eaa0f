package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// hubIndex is an immutable snapshot of every hub, rebuilt after each metadata change, so
// the produce and fetch paths look hubs up without locks or copies. secondaryOf maps each
// namespace that is a paired geo-DR secondary to its alias name; rules holds each
// namespace's network rules, checked on every HTTP request and Kafka connection; aliases
// maps each alias name held here (lower case) to its namespace and configuration.
type hubIndex struct {
	index       uint64 // the metadata index it was built at
	hubs        map[[2]string]HubInfo
	secondaryOf map[string]string
	rules       map[string]meta.NetworkRules
	aliases     map[string]aliasEntry
}

type aliasEntry struct {
	ns  string
	cfg meta.AliasConfig
}

func openMeta(opts Options) (*meta.Store, error) {
	return meta.Open(meta.StoreOptions{Dir: filepath.Join(opts.DataDir, "meta"), Logger: opts.Logger})
}

// propose appends a command to the metadata log and refreshes the hub index. A paired
// geo-DR secondary takes no changes but to its alias: its entities come from the primary.
func (b *Broker) propose(ctx context.Context, c meta.Command) error {
	return b.proposeView(ctx, c, nil)
}

// proposeView is propose that calls view with the state right after c applied (see
// meta.Backend.ProposeView): a handler answers with what its own write left, not with a
// re-read that a racing change may have overtaken.
func (b *Broker) proposeView(ctx context.Context, c meta.Command, view func(*meta.State)) error {
	if err := b.checkNotSecondary(c); err != nil {
		return err
	}
	if _, err := b.meta.ProposeView(ctx, c, view); err != nil {
		return err
	}
	switch c.(type) {
	case meta.CommitOffsets, meta.DeleteOffsets, meta.ClaimOwnership:
	default:
		b.refreshHubs()
	}
	return nil
}

func (b *Broker) refreshHubs() {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	idx := hubIndex{hubs: map[[2]string]HubInfo{}, secondaryOf: map[string]string{},
		rules: map[string]meta.NetworkRules{}, aliases: map[string]aliasEntry{}}
	b.meta.View(func(s *meta.State) {
		idx.index = s.Index()
		for _, ns := range s.Namespaces() {
			n, err := s.Namespace(ns)
			if err != nil {
				continue
			}
			idx.rules[ns] = n.NetworkRules
			if n.Alias.Paired() && n.Alias.Role == meta.RoleSecondary {
				idx.secondaryOf[ns] = n.Alias.Name
			}
			if n.Alias != nil {
				idx.aliases[strings.ToLower(n.Alias.Name)] = aliasEntry{ns, *n.Alias}
			}
			hubs, _ := s.Hubs(ns)
			for _, name := range hubs {
				h, err := s.Hub(ns, name)
				if err == nil {
					idx.hubs[[2]string{ns, name}] = b.hubInfo(ns, h)
				}
			}
		}
	})
	b.hubs.Store(&idx)
}

// checkNotSecondary refuses a change to a namespace that is a paired geo-DR secondary,
// except to its alias. Replicated changes come through ApplyReplicated instead.
func (b *Broker) checkNotSecondary(c meta.Command) error {
	switch c.(type) {
	case meta.SetAlias, meta.ClearAlias, meta.RetireAlias, meta.CreateNamespace:
		return nil
	}
	ns := meta.NamespaceOf(c)
	idx := b.hubs.Load()
	if alias, ok := idx.secondaryOf[ns]; ok && !ownSetting(c, idx.rules[ns]) {
		b.metrics.refusedWrites.WithLabelValues(ns).Inc()
		return errcode.New(errcode.ReadOnly,
			"namespace %q is the secondary of alias %q and is read-only while paired; make changes on the primary (they replicate here) or fail the alias over",
			ns, alias)
	}
	return nil
}

// ownSetting reports whether c changes only what each side of a pairing owns and replication
// leaves alone: the tier and the private endpoints. A secondary may change those.
func ownSetting(c meta.Command, cur meta.NetworkRules) bool {
	u, ok := c.(meta.UpdateNamespace)
	if !ok || len(u.SetLabels) > 0 || len(u.DeleteLabels) > 0 {
		return false
	}
	if u.NetworkRules == nil {
		return true
	}
	r := *u.NetworkRules
	if r.DefaultAction == "" {
		r.DefaultAction = meta.Allow
	}
	return r.DefaultAction == cur.DefaultAction && slices.Equal(r.IPRules, cur.IPRules)
}

func (b *Broker) hubInfo(ns string, h *meta.Hub) HubInfo {
	inc := strconv.FormatInt(h.CreatedAt.UnixNano(), 36)
	groups := make([]string, 0, len(h.Groups))
	for g := range h.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	seg := b.opts.SegmentBytes
	if seg == 0 {
		seg = 128 << 20
	}
	return HubInfo{Namespace: ns, Name: h.Name, ID: topicID(h.Name, inc), Incarnation: inc,
		Partitions: h.PartitionCount, RetentionTime: h.RetentionTime, RetentionBytes: h.RetentionBytes,
		MaxEventBytes: h.MaxEventBytes, SegmentBytes: seg, ConsumerGroups: groups,
		CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}
}

// bootstrap creates the dev namespace and the node admin key on first start, and removes
// partition directories of hubs that no longer exist (a crash between a DeleteHub and the
// removal of its files).
func (b *Broker) bootstrap(ctx context.Context) error {
	if err := b.loadAdminKey(); err != nil {
		return err
	}
	b.refreshHubs()
	if b.cl != nil {
		// The reconciler creates the dev namespace on the metadata leader, and a node that
		// has not caught up must not take hubs it does not know yet for orphans.
		return nil
	}
	if b.opts.Dev {
		if _, err := b.Namespace(DevNamespace); errcode.Is(err, errcode.NotFound) {
			if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: DevNamespace, Tier: string(meta.Standard)}); err != nil {
				return fmt.Errorf("creating dev namespace: %w", err)
			}
		}
	}
	b.removeOrphanHubDirs()
	return nil
}

func (b *Broker) removeOrphanHubDirs() {
	root := filepath.Join(b.opts.DataDir, "hubs")
	nss, _ := os.ReadDir(root)
	live := map[string]bool{}
	for _, h := range b.hubs.Load().hubs {
		live[b.hubDir(h.Namespace, h.Name, h.Incarnation)] = true
	}
	for _, ns := range nss {
		dirs, _ := os.ReadDir(filepath.Join(root, ns.Name()))
		for _, d := range dirs {
			p := filepath.Join(root, ns.Name(), d.Name())
			if !live[p] {
				b.log.Info("removing files of a deleted event hub", "dir", p)
				os.RemoveAll(p)
			}
		}
	}
}

// Hub returns an event hub; errcode.NotFound names what is missing.
func (b *Broker) Hub(ns, name string) (HubInfo, error) {
	if h, ok := b.hubs.Load().hubs[[2]string{ns, name}]; ok {
		return h, nil
	}
	if _, err := b.Namespace(ns); err != nil {
		return HubInfo{}, err
	}
	return HubInfo{}, errcode.New(errcode.NotFound,
		"event hub %q not found in namespace %q; create it with 'tandem hub create %s/%s'", name, ns, ns, name)
}

// writableHub is Hub for the write path: a paired geo-DR secondary takes no events.
func (b *Broker) writableHub(ns, name string) (HubInfo, error) {
	if alias, ok := b.hubs.Load().secondaryOf[ns]; ok {
		b.metrics.refusedWrites.WithLabelValues(ns).Inc()
		return HubInfo{}, errcode.New(errcode.ReadOnly,
			"namespace %q is the secondary of alias %q and takes no events while paired; send through the alias connection string",
			ns, alias)
	}
	return b.Hub(ns, name)
}

// Hubs lists the event hubs of ns, sorted by name.
func (b *Broker) Hubs(ns string) []HubInfo {
	var out []HubInfo
	for k, h := range b.hubs.Load().hubs {
		if k[0] == ns {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateNamespace creates a namespace with a fresh RootManageSharedAccessKey policy.
func (b *Broker) CreateNamespace(ctx context.Context, spec NamespaceSpec) (NamespaceInfo, error) {
	k1, err := auth.GenerateKey()
	if err != nil {
		return NamespaceInfo{}, err
	}
	k2, err := auth.GenerateKey()
	if err != nil {
		return NamespaceInfo{}, err
	}
	cmd := meta.CreateNamespace{Namespace: spec.Name, Tier: meta.Tier(spec.Tier), Cluster: spec.Cluster,
		NetworkRules: networkRules(spec), RootPrimaryKey: k1, RootSecondaryKey: k2, Time: b.now()}
	if err := b.propose(ctx, cmd); err != nil {
		return NamespaceInfo{}, err
	}
	return b.Namespace(spec.Name)
}

func networkRules(spec NamespaceSpec) meta.NetworkRules {
	r := meta.NetworkRules{DefaultAction: meta.Allow, PrivateEndpoints: spec.PrivateEndpoints}
	if spec.DefaultAction != "" {
		r.DefaultAction = meta.Action(spec.DefaultAction)
	}
	for _, cidr := range spec.IPRules {
		r.IPRules = append(r.IPRules, meta.IPRule{CIDR: cidr, Action: meta.Allow})
	}
	return r
}

// UpdateNamespace changes a namespace's tier and network rules.
func (b *Broker) UpdateNamespace(ctx context.Context, spec NamespaceSpec) (NamespaceInfo, error) {
	rules := networkRules(spec)
	cmd := meta.UpdateNamespace{Namespace: spec.Name, Tier: meta.Tier(spec.Tier), NetworkRules: &rules, Time: b.now()}
	if err := b.propose(ctx, cmd); err != nil {
		return NamespaceInfo{}, err
	}
	return b.Namespace(spec.Name)
}

// Namespace returns one namespace.
func (b *Broker) Namespace(name string) (NamespaceInfo, error) {
	var info NamespaceInfo
	var err error
	b.meta.View(func(s *meta.State) {
		var n *meta.Namespace
		if n, err = s.Namespace(name); err == nil {
			info = b.namespaceInfo(n)
		}
	})
	return info, err
}

func (b *Broker) namespaceInfo(n *meta.Namespace) NamespaceInfo {
	info := NamespaceInfo{NamespaceSpec: NamespaceSpec{Name: n.Name, Tier: string(n.Tier), Cluster: n.Cluster,
		DefaultAction: string(n.NetworkRules.DefaultAction), PrivateEndpoints: n.NetworkRules.PrivateEndpoints},
		Region: b.opts.Region, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, HubCount: len(n.Hubs)}
	for _, r := range n.NetworkRules.IPRules {
		info.IPRules = append(info.IPRules, r.CIDR)
	}
	return info
}

// Namespaces lists every namespace, sorted by name.
func (b *Broker) Namespaces() []NamespaceInfo {
	var out []NamespaceInfo
	b.meta.View(func(s *meta.State) {
		for _, name := range s.Namespaces() {
			if n, err := s.Namespace(name); err == nil {
				out = append(out, b.namespaceInfo(n))
			}
		}
	})
	return out
}

// DeleteNamespace deletes a namespace with its hubs and their events.
func (b *Broker) DeleteNamespace(ctx context.Context, name string) error {
	hubs := b.Hubs(name)
	if cfg, ok := b.Alias(name); ok && !cfg.Paired() {
		// Its alias name stays reserved for the pairing, as after 'tandem alias delete'.
		if err := b.RetireAlias(ctx, name); err != nil {
			return err
		}
	}
	if err := b.propose(ctx, meta.DeleteNamespace{Namespace: name}); err != nil {
		return err
	}
	// A namespace created again under the name must not find the old one's group members.
	b.groups.ForgetNamespace(ctx, name)
	for _, h := range hubs {
		b.removeHubFiles(h)
	}
	b.metrics.forgetNamespace(name)
	return nil
}

// ValidateHub checks a hub spec without creating it, quotas included.
func (b *Broker) ValidateHub(ns string, spec HubSpec) error {
	cmd := b.createHubCmd(ns, spec)
	var err error
	b.meta.View(func(s *meta.State) { err = s.Check(cmd) })
	if err != nil {
		return err
	}
	return b.checkHubQuota(ns, hubPartitions(cmd))
}

// hubPartitions is the partition count a CreateHub gives the hub (0 takes the default).
func hubPartitions(c meta.CreateHub) int32 {
	if c.PartitionCount == 0 {
		return meta.DefaultPartitionCount
	}
	return c.PartitionCount
}

func (b *Broker) createHubCmd(ns string, spec HubSpec) meta.CreateHub {
	return meta.CreateHub{Namespace: ns, Hub: spec.Name, PartitionCount: spec.Partitions,
		RetentionTime: spec.RetentionTime, RetentionBytes: spec.RetentionBytes, MaxEventBytes: spec.MaxEventBytes, Time: b.now()}
}

// CreateHub creates an event hub with its $Default consumer group, within the quotas of
// hubs per namespace and partitions per node.
func (b *Broker) CreateHub(ctx context.Context, ns string, spec HubSpec) error {
	_, err := b.CreateHubInfo(ctx, ns, spec)
	return err
}

// CreateHubInfo is CreateHub that returns the hub as its creation left it.
func (b *Broker) CreateHubInfo(ctx context.Context, ns string, spec HubSpec) (HubInfo, error) {
	cmd := b.createHubCmd(ns, spec)
	view, info := b.hubView(ns, spec.Name)
	err := b.proposeWithin(ctx, func() error { return b.checkHubQuota(ns, hubPartitions(cmd)) }, cmd, view)
	return *info, err
}

// hubView returns a view for proposeView that stores hub ns/name, as the state holds it,
// in the returned HubInfo.
func (b *Broker) hubView(ns, name string) (func(*meta.State), *HubInfo) {
	info := &HubInfo{}
	return func(s *meta.State) {
		if h, err := s.Hub(ns, name); err == nil {
			*info = b.hubInfo(ns, h)
		}
	}, info
}

// UpdateHub changes retention, max event size or (only upwards) the partition count. Open
// partitions pick up new retention settings when they are next opened.
func (b *Broker) UpdateHub(ctx context.Context, ns string, spec HubSpec) error {
	_, err := b.UpdateHubInfo(ctx, ns, spec)
	return err
}

// UpdateHubInfo is UpdateHub that returns the hub as this update left it.
func (b *Broker) UpdateHubInfo(ctx context.Context, ns string, spec HubSpec) (HubInfo, error) {
	cmd := meta.UpdateHub{Namespace: ns, Hub: spec.Name, PartitionCount: spec.Partitions,
		RetentionTime: spec.RetentionTime, MaxEventBytes: spec.MaxEventBytes, Time: b.now()}
	if spec.RetentionBytes != 0 {
		rb := spec.RetentionBytes
		cmd.RetentionBytes = &rb
	}
	view, info := b.hubView(ns, spec.Name)
	if err := b.proposeWithin(ctx, func() error { return b.checkMorePartitions(ns, spec.Name, spec.Partitions) }, cmd, view); err != nil {
		return HubInfo{}, err
	}
	if spec.RetentionTime != 0 || spec.RetentionBytes != 0 {
		b.closeHub(ns, spec.Name) // reopened with the new retention on next use
	}
	return *info, nil
}

// checkMorePartitions checks the partitions-per-node quota for raising hub's partition count
// to count (0: unchanged).
func (b *Broker) checkMorePartitions(ns, hub string, count int32) error {
	h, err := b.Hub(ns, hub)
	if err != nil || count <= h.Partitions {
		return nil // the command's own check names what is wrong
	}
	b.meta.View(func(s *meta.State) { err = b.checkPartitionsLocked(s, int64(count-h.Partitions)) })
	return err
}

// AddPartitions raises the partition count of a hub to count.
func (b *Broker) AddPartitions(ctx context.Context, ns, hub string, count int32) error {
	return b.UpdateHub(ctx, ns, HubSpec{Name: hub, Partitions: count})
}

// DeleteHub deletes an event hub, its consumer groups, checkpoints and events.
func (b *Broker) DeleteHub(ctx context.Context, ns, name string) error {
	h, err := b.Hub(ns, name)
	if err != nil {
		return err
	}
	if err := b.propose(ctx, meta.DeleteHub{Namespace: ns, Hub: name}); err != nil {
		return err
	}
	b.removeHubFiles(h)
	return nil
}

func (b *Broker) removeHubFiles(h HubInfo) {
	b.closeHub(h.Namespace, h.Name)
	b.metrics.forgetHub(h.Namespace, h.Name)
	if b.cl != nil {
		return // the reconciler stops the hub's groups and removes their files on every node
	}
	if err := os.RemoveAll(b.hubDir(h.Namespace, h.Name, h.Incarnation)); err != nil {
		b.log.Warn("removing event hub files", "namespace", h.Namespace, "eventhub", h.Name, "err", err)
	}
}

func (b *Broker) now() time.Time { return b.opts.Now().UTC() }

// atomicHubs holds the current hub index.
type atomicHubs = atomic.Pointer[hubIndex]
