package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

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

// refreshHubs brings the hub index up to the metadata's last applied command: it applies
// what the commands since the index's own touched (meta.State.TouchesSince), or rebuilds it
// when the metadata cannot say (first call, a state restored from a snapshot, a command the
// journal does not know). Commands that touch no hub, namespace setting or policy (committed
// offsets, job checkpoints) leave the index as it is, the same pointer.
func (b *Broker) refreshHubs() {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	b.meta.View(func(s *meta.State) {
		cur, at := b.hubs.Load(), b.hubsAt.Load()
		if cur != nil && at == s.Index() {
			return
		}
		var next *hubIndex
		if cur != nil {
			if touches, ok := s.TouchesSince(at); ok {
				if len(touches) == 0 {
					next = cur
				} else {
					next = b.applyTouches(cur, s, touches)
				}
			}
		}
		if next == nil {
			next = b.buildHubIndex(s)
		}
		b.hubs.Store(next)
		b.hubsAt.Store(s.Index())
	})
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
	if alias, ok := idx.secondaryOf(ns); ok && !ownSetting(c, rulesOrZero(idx, ns)) {
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
	b.hubs.Load().eachHub(func(h HubInfo) bool {
		live[b.hubDir(h.Namespace, h.Name, h.Incarnation)] = true
		return true
	})
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
	idx := b.hubs.Load()
	if h, ok := idx.hub(ns, name); ok {
		return h, nil
	}
	if _, ok := idx.ns[ns]; !ok {
		if _, err := b.Namespace(ns); err != nil {
			return HubInfo{}, err
		}
	}
	return HubInfo{}, errcode.New(errcode.NotFound,
		"event hub %q not found in namespace %q; create it with 'tandem hub create %s/%s'", name, ns, ns, name)
}

// writableHub is Hub for the write path: a paired geo-DR secondary takes no events.
func (b *Broker) writableHub(ns, name string) (HubInfo, error) {
	if alias, ok := b.hubs.Load().secondaryOf(ns); ok {
		b.metrics.refusedWrites.WithLabelValues(ns).Inc()
		return HubInfo{}, errcode.New(errcode.ReadOnly,
			"namespace %q is the secondary of alias %q and takes no events while paired; send through the alias connection string",
			ns, alias)
	}
	return b.Hub(ns, name)
}

// Hubs lists the event hubs of ns, sorted by name.
func (b *Broker) Hubs(ns string) []HubInfo {
	return b.hubs.Load().hubsOf(ns)
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

// Namespace returns one namespace, at a cost that does not grow with its hubs.
func (b *Broker) Namespace(name string) (NamespaceInfo, error) {
	var info NamespaceInfo
	var err error
	b.meta.View(func(s *meta.State) {
		var f meta.NamespaceFacts
		if f, err = s.NamespaceFacts(name); err == nil {
			info = b.namespaceInfo(name, f)
		}
	})
	return info, err
}

// HasNamespace reports whether namespace name exists here, without copying anything.
func (b *Broker) HasNamespace(name string) bool {
	var ok bool
	b.meta.View(func(s *meta.State) { ok = s.HasNamespace(name) })
	return ok
}

func (b *Broker) namespaceInfo(name string, f meta.NamespaceFacts) NamespaceInfo {
	info := NamespaceInfo{NamespaceSpec: NamespaceSpec{Name: name, Tier: string(f.Tier), Cluster: f.Cluster,
		DefaultAction: string(f.NetworkRules.DefaultAction), PrivateEndpoints: f.NetworkRules.PrivateEndpoints},
		Region: b.opts.Region, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, HubCount: f.Hubs}
	for _, r := range f.NetworkRules.IPRules {
		info.IPRules = append(info.IPRules, r.CIDR)
	}
	return info
}

// Namespaces lists every namespace, sorted by name.
func (b *Broker) Namespaces() []NamespaceInfo {
	var out []NamespaceInfo
	b.meta.View(func(s *meta.State) {
		for _, name := range s.Namespaces() {
			if f, err := s.NamespaceFacts(name); err == nil {
				out = append(out, b.namespaceInfo(name, f))
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
	b.dropHub(h.Namespace, h.Name)
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

// rulesOrZero is namespace ns's network rules, zero when it does not exist.
func rulesOrZero(x *hubIndex, ns string) meta.NetworkRules {
	r, _ := x.rules(ns)
	return r
}
