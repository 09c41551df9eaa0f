package geodr

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Options configure a Manager.
type Options struct {
	Broker *broker.Broker
	// Endpoint is this region's HTTP API as the partner region reaches it (http://host:port);
	// Kafka its advertised Kafka listener (host:port); NodeID its Kafka node id.
	Endpoint string
	Kafka    string
	NodeID   int32
	// AMQP is this node's AMQP 1.0 listener as clients reach it (host:port, "" for none): the
	// partner region proxies Event Hubs SDKs that name the alias there while the alias is
	// active here (meta.Peer.AMQP).
	AMQP   string
	Logger *slog.Logger
	// Registerer receives the replication metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// CheckEvery is how often each side checks its peer: a primary learns from it that a
	// failover moved the alias away (default 5 s).
	CheckEvery time.Duration
	// FeedWait is how long a replication long-poll waits for a change (default 10 s).
	FeedWait time.Duration
	// PeerAllow and RegionsFile list the partner regions this region may pair with and call:
	// entries of PeerAllow are http(s)://host:port, host:port or a host (any port);
	// RegionsFile is a regions file as `tandem dev` writes it (each region's "server" URL),
	// read at every check. With neither, any endpoint of the right shape is allowed, and only
	// the node admin key may name one.
	PeerAllow   []string
	RegionsFile string
	// TLS configures the client side of calls to https:// partner endpoints (the CA that
	// signed the partner regions' certificates); nil uses the system roots. It is not used
	// when HTTPClient is set.
	TLS        *tls.Config
	HTTPClient *http.Client
	Now        func() time.Time
}

// Manager runs geo-DR for one region: the alias operations, the replication runner of every
// local secondary, the peer checks that fence a former primary, and the region-to-region API.
type Manager struct {
	opts Options
	b    *broker.Broker
	log  *slog.Logger
	peer peerClient
	met  *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	opMu   sync.Mutex // serializes alias operations (create, break, failover, delete, fence)

	mu    sync.Mutex
	links map[string]*link // by local namespace
	lead  *term            // this node's metadata leadership, nil when it does not lead (leader.go)
}

// link is the runtime state of one local namespace's alias: what it knows of its peer and of
// replication. It is not persisted; the durable part lives in the alias configuration.
type link struct {
	running     bool      // a secondary's replication runner is up
	contact     time.Time // last successful exchange with the peer
	reachable   bool
	lastErr     string
	caughtUpAt  time.Time // last moment the secondary was known to have everything
	pending     int       // replicable changes not yet applied on the secondary
	ack         uint64    // primary: the secondary's last requested position
	acked       bool      // primary: ack is known (the secondary polled since start)
	parked      int       // primary: feed requests waiting for a change (the secondary is caught up)
	scanned     uint64    // secondary: last primary log index examined
	needSync    bool      // secondary: resync from a snapshot before reading the log
	syncs       int       // secondary: snapshot syncs done
	applied     int64     // secondary: replicated changes applied
	lastApplied time.Time
}

// New returns a Manager; Start starts its loops.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = 5 * time.Second
	}
	if opts.FeedWait <= 0 {
		opts.FeedWait = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{opts: opts, b: opts.Broker, log: opts.Logger.With("component", "geodr"),
		ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), links: map[string]*link{}}
	m.peer = newPeerClient(opts.HTTPClient, opts.TLS, m.log, m.checkEndpoint)
	m.met = newMetrics(opts.Registerer, m)
	return m
}

// Start checks every alias's peer once (so a former primary that lost its alias during a
// failover learns it before serving), then starts the replication runners and the periodic
// peer checks. The first check gives up on an unreachable peer after a few seconds. In a
// cluster all of this runs on the metadata leader only (leader.go), which it follows.
func (m *Manager) Start(ctx context.Context) {
	_, clustered := m.b.ClusterNodeID()
	if !clustered {
		m.setLeader(true)
		first, cancel := context.WithTimeout(ctx, 3*time.Second)
		m.checkPeers(first)
		cancel()
	} else {
		m.wg.Add(1)
		go m.watchLeadership()
	}
	m.wg.Add(1)
	go m.supervise()
}

// Close stops the loops and ends the replication feeds it serves, and waits for the loops.
// It may be called more than once.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// poke makes the supervisor look at the aliases now (after an operation changed one).
func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Manager) supervise() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.CheckEvery)
	defer t.Stop()
	var checked context.Context // the term whose first peer check is done
	if _, clustered := m.b.ClusterNodeID(); !clustered {
		checked = m.leaderCtx() // Start checked the peers
	}
	for {
		lead := m.leaderCtx()
		if lead != nil && lead != checked {
			checked = lead // a new term: learn of failovers before replicating
			m.checkPeersIn(lead)
		}
		if lead != nil {
			m.startRunners(lead)
		}
		m.prune()
		select {
		case <-m.ctx.Done():
			return
		case <-m.kick:
		case <-t.C:
			if lead != nil {
				m.checkPeersIn(lead)
			}
		}
	}
}

// checkPeersIn runs one round of peer checks within term ctx, bounded by CheckEvery.
func (m *Manager) checkPeersIn(lead context.Context) {
	ctx, cancel := context.WithTimeout(lead, m.opts.CheckEvery)
	m.checkPeers(ctx)
	cancel()
}

// startRunners starts a replication runner for every local secondary that has none; each
// stops when term ctx ends.
func (m *Manager) startRunners(ctx context.Context) {
	for ns, cfg := range m.b.Aliases() {
		if cfg.Role != meta.RoleSecondary || !cfg.Paired() {
			continue
		}
		l := m.link(ns)
		m.mu.Lock()
		start := !l.running
		l.running = true
		m.mu.Unlock()
		if start {
			m.wg.Add(1)
			go m.runSecondary(ctx, ns)
		}
	}
}

// link returns the runtime state of ns's alias. It is kept only for a namespace that holds an
// alias: for any other name (a request can name any) it is a throwaway, so no caller can make
// the manager keep state for names of its choosing.
func (m *Manager) link(ns string) *link {
	m.mu.Lock()
	l, ok := m.links[ns]
	m.mu.Unlock()
	if ok {
		return l
	}
	if _, held := m.b.Alias(ns); !held {
		return &link{needSync: true}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok = m.links[ns]; !ok {
		l = &link{needSync: true}
		m.links[ns] = l
	}
	return l
}

// prune drops the runtime state and the metric series of namespaces that no longer hold an
// alias (deleted, cleared by break pairing, or the namespace deleted).
func (m *Manager) prune() {
	held := m.b.Aliases()
	m.mu.Lock()
	var gone []string
	for ns, l := range m.links {
		if _, ok := held[ns]; !ok && !l.running {
			delete(m.links, ns)
			gone = append(gone, ns)
		}
	}
	m.mu.Unlock()
	for _, ns := range gone {
		m.met.applied.DeleteLabelValues(ns)
	}
}

func (m *Manager) update(ns string, fn func(l *link)) {
	l := m.link(ns)
	m.mu.Lock()
	fn(l)
	m.mu.Unlock()
}

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

// self describes this region's side of an alias held by namespace ns.
// In a cluster it names every node's Kafka broker (meta.Peer.Nodes, from the endpoints the
// members recorded), the same on whichever node answers, so that the partner sends alias
// clients to all of them.
func (m *Manager) self(ns string) meta.Peer {
	p := meta.Peer{Region: m.b.Region(), Namespace: ns, Endpoint: m.opts.Endpoint,
		Kafka: []string{m.opts.Kafka}, NodeID: m.opts.NodeID}
	if nodes := m.b.PeerNodes(); len(nodes) > 0 {
		p.Nodes, p.Kafka, p.NodeID = nodes, nil, nodes[0].ID
		for _, n := range nodes {
			p.Kafka = append(p.Kafka, n.Kafka)
		}
	}
	p.AMQP = selfAMQP(m.opts.AMQP, p.Nodes)
	return p
}

// selfAMQP lists the region's AMQP listeners: every cluster node's that recorded one, else
// this node's own (nil when it serves no AMQP).
func selfAMQP(own string, nodes []meta.PeerNode) []string {
	var out []string
	for _, n := range nodes {
		if n.AMQP != "" {
			out = append(out, n.AMQP)
		}
	}
	if len(out) == 0 && own != "" {
		out = []string{own}
	}
	return out
}

// checkPeers asks each alias's peer for its state, with the pairing's link key. A side that
// holds the alias and learns from its recorded peer that the peer holds it at a higher epoch
// has lost it to a failover: it fences itself. Only the recorded peer namespace counts, and
// only an answer the link key authenticates: whoever else holds the alias name in the peer
// region (a stale alias deleted there frees the name for any tenant) fences nothing here.
func (m *Manager) checkPeers(ctx context.Context) {
	var wg sync.WaitGroup
	for ns, cfg := range m.b.Aliases() {
		peer := cfg.Partner
		if peer == nil {
			peer = cfg.Former
		}
		if peer == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := m.peer.status(ctx, peer.Endpoint, cfg.Name, cfg.LinkKey)
			if err == nil && !isPeer(st, *peer) {
				err = errcode.New(errcode.Conflict, "alias %q in region %s is held by another namespace than %s",
					cfg.Name, peer.Region, peer.Namespace)
			}
			m.update(ns, func(l *link) {
				l.reachable = err == nil
				if err == nil {
					l.contact, l.lastErr = m.now(), ""
				} else {
					l.lastErr = err.Error()
				}
			})
			if err != nil {
				return
			}
			if peerMoved(st.Self, *peer) {
				m.refreshPeer(ctx, ns, st.Self)
			}
			if epoch, lost := lostTo(cfg, st); lost {
				m.fenceSelf(ctx, ns, cfg.Name, FenceRequest{Epoch: epoch, Holder: st.Self}, "peer check")
			}
		}()
	}
	wg.Wait()
}

// isPeer reports whether st is the state of the recorded peer namespace.
func isPeer(st Status, peer meta.Peer) bool {
	return st.Namespace == peer.Namespace && st.Region == peer.Region &&
		st.Self.Namespace == peer.Namespace && st.Self.Region == peer.Region
}

// lostTo decides, from an authenticated status of the recorded peer, whether this side (cfg)
// lost the alias to a failover, and at which epoch. The peer holds it at a higher epoch; or
// this side is a paired primary whose own secondary holds it: a secondary takes the alias only
// by a failover, which may have come before it learned this side's epoch.
func lostTo(cfg meta.AliasConfig, st Status) (uint64, bool) {
	switch {
	case !cfg.Active() || !st.Active:
		return 0, false
	case st.Epoch > cfg.Epoch:
		return st.Epoch, true
	case cfg.Role == meta.RolePrimary && cfg.Partner != nil && isPeer(st, *cfg.Partner):
		return cfg.Epoch + 1, true
	}
	return 0, false
}

func peerMoved(now, stored meta.Peer) bool {
	return !slices.Equal(now.Kafka, stored.Kafka) || now.NodeID != stored.NodeID || now.Endpoint != stored.Endpoint ||
		!slices.Equal(now.Nodes, stored.Nodes) || !slices.Equal(now.AMQP, stored.AMQP)
}

// refreshPeer records the peer's current addresses (a region restarted on other ports or
// advertises another endpoint), so alias clients are sent to where it is now.
func (m *Manager) refreshPeer(ctx context.Context, ns string, self meta.Peer) {
	if _, err := m.checkEndpoint(self.Endpoint); err != nil {
		m.log.Warn("the partner region advertises an endpoint this region does not call; keeping the one recorded",
			"namespace", ns, "endpoint", self.Endpoint, "err", err)
		return
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, ok := m.b.Alias(ns)
	if !ok {
		return
	}
	switch {
	case cfg.Partner != nil && cfg.Partner.Namespace == self.Namespace && cfg.Partner.Region == self.Region:
		cfg.Partner = &self
	case cfg.Former != nil && cfg.Former.Namespace == self.Namespace && cfg.Former.Region == self.Region:
		cfg.Former = &self
	default:
		return
	}
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		m.log.Warn("recording the partner's new addresses", "namespace", ns, "err", err)
		return
	}
	m.log.Info("partner region's addresses changed", "alias", cfg.Name, "namespace", ns, "endpoint", self.Endpoint, "kafka", self.Kafka)
}

// fenceSelf records that a failover moved alias away from local namespace ns.
func (m *Manager) fenceSelf(ctx context.Context, ns, alias string, req FenceRequest, how string) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, ok := m.b.Alias(ns)
	if !ok || cfg.Name != alias {
		return errcode.New(errcode.NotFound, "alias %q is not held by namespace %q here", alias, ns)
	}
	if req.Epoch <= cfg.Epoch || !cfg.Active() {
		return nil
	}
	holder := req.Holder
	cfg.Role, cfg.Lost, cfg.Epoch, cfg.Former, cfg.Partner = meta.RolePrimaryNotReplicating, true, req.Epoch, &holder, nil
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		return err
	}
	m.log.Warn("alias lost to a failover: this namespace no longer takes alias traffic; its own events stay readable by its name",
		"alias", alias, "namespace", ns, "epoch", req.Epoch, "holder_region", holder.Region, "holder_namespace", holder.Namespace, "learned_by", how)
	return nil
}

// CheckName reports whether alias name is available in this region to local namespace ns: a
// valid name that no namespace or alias here uses, and not reserved for another namespace.
func (m *Manager) CheckName(ns, name string) (bool, string, string) {
	if err := meta.ValidAliasName(name); err != nil {
		return false, "InvalidName", err.Error()
	}
	if m.b.NamespaceTaken(name) {
		return false, "AlreadyExists", "the name " + name + " is already used by a namespace or an alias in region " + m.b.Region()
	}
	if r, ok := m.b.AliasReservation(name); ok && !m.reservedFor(r, ns) {
		return false, "NameInLockdown", m.describeReservation(r) // Event Hubs' reason for a name held after a delete
	}
	return true, "None", ""
}

// CreateOptions name the partner of a new alias.
type CreateOptions struct {
	PartnerNamespace string
	PartnerEndpoint  string
	Credential       Credential // for the partner namespace (Manage rule) or the partner node
	// Admin says the caller authenticated with this node's admin key. Without a list of
	// partner regions (Options.PeerAllow, RegionsFile), only the admin key may name a partner
	// endpoint.
	Admin bool
}

// Create pairs local namespace ns (the primary) with the partner namespace under alias. Every
// pairing rule is checked against facts from both regions first, and a broken rule is
// refused with its message. The partner becomes the secondary and starts replicating; the
// alias's provisioning state is Accepted until the secondary's first replication request,
// then Succeeded (or Failed with the reason if the partner could not be paired).
func (m *Manager) Create(ctx context.Context, ns, alias string, o CreateOptions) (meta.AliasConfig, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if o.PartnerNamespace == "" || o.PartnerEndpoint == "" {
		return meta.AliasConfig{}, errcode.New(errcode.InvalidArgument,
			"creating an alias needs partnerNamespace and partnerEndpoint (the partner region's HTTP API, like http://127.0.0.1:8180)")
	}
	if o.Credential == (Credential{}) {
		return meta.AliasConfig{}, errcode.New(errcode.InvalidArgument,
			"creating an alias needs partnerConnectionString (a Manage rule of the partner namespace) or partnerAdminKey (the partner node's admin key)")
	}
	if _, err := m.checkNewEndpoint(o.PartnerEndpoint, o.Admin); err != nil {
		return meta.AliasConfig{}, err
	}
	epoch, repair := uint64(1), false
	prev, ok := m.b.Alias(ns)
	if cur := prev; ok {
		if cur.Name == alias && cur.Partner != nil && cur.Partner.Namespace == o.PartnerNamespace {
			return cur, nil // PUT is idempotent
		}
		// Fail-forward (after a failover) or pairing again after break pairing: the namespace
		// holds the alias without a partner and pairs it with a new secondary at its epoch.
		if repair = strings.EqualFold(cur.Name, alias) && cur.Active() && !cur.Paired(); repair {
			epoch, alias = max(cur.Epoch, 1), cur.Name
		}
	}
	if err := meta.ValidAliasName(alias); err != nil {
		return meta.AliasConfig{}, err
	}
	if !repair {
		if err := m.checkReserved(ns, alias, o.Admin, nil); err != nil {
			return meta.AliasConfig{}, err
		}
	}
	local, err := m.localFacts(ns, alias)
	if err != nil {
		return meta.AliasConfig{}, err
	}
	if repair {
		local.Namespace.Alias, local.AliasTaken = "", false
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	remote, err := m.peer.facts(fctx, o.PartnerEndpoint, o.PartnerNamespace, alias, o.Credential)
	if err != nil {
		return meta.AliasConfig{}, err
	}
	if remote.AliasTakenBy != "" {
		return meta.AliasConfig{}, errcode.New(errcode.AlreadyExists, "alias %q is already in use in region %s: %s",
			alias, remote.Namespace.Region, remote.AliasTakenBy)
	}
	if err := CheckPairing(alias, local.Namespace, remote.Namespace, local.AliasTaken || remote.AliasTaken); err != nil {
		return meta.AliasConfig{}, err
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return meta.AliasConfig{}, errcode.New(errcode.Internal, "generating the pairing's link key: %w", err)
	}
	partner := remote.Self
	if _, err := m.checkNewEndpoint(partner.Endpoint, o.Admin); err != nil {
		return meta.AliasConfig{}, errcode.New(errcode.CodeOf(err), "the partner region advertises its API at %s: %w", partner.Endpoint, err)
	}
	cfg := meta.AliasConfig{Name: alias, Role: meta.RolePrimary, Epoch: epoch, Partner: &partner, LinkKey: key,
		ProvisioningState: meta.ProvisioningAccepted}
	if repair && prev.Former != nil {
		// The former primary may not know of the failover yet; it still presents the old
		// pairing's key when it checks this side, and must be answered to fence itself.
		cfg.FormerLinkKey = prev.LinkKey
	}
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		return meta.AliasConfig{}, err
	}
	req := PairRequest{Alias: alias, Epoch: epoch, LinkKey: key, Primary: m.self(ns), Facts: local.Namespace}
	var held *meta.AliasConfig
	if ok {
		held = &prev
	}
	req.Claims = m.claims(ns, held, req, remote.Namespace.Region, o.PartnerNamespace)
	_, err = m.peer.pair(fctx, o.PartnerEndpoint, o.PartnerNamespace, o.Credential, req)
	switch {
	case err == nil:
	case errcode.Is(err, errcode.Unavailable) || errcode.Is(err, errcode.Timeout) || errcode.Is(err, errcode.Internal):
		cfg.ProvisioningState, cfg.Reason = meta.ProvisioningFailed, "pairing the partner failed: "+err.Error()
		if serr := m.b.SetAlias(context.WithoutCancel(ctx), ns, cfg); serr != nil {
			return meta.AliasConfig{}, serr
		}
		return cfg, nil
	default: // the partner refused: nothing is paired
		var rerr error
		if repair {
			rerr = m.b.SetAlias(context.WithoutCancel(ctx), ns, prev)
		} else {
			rerr = m.b.ClearAlias(context.WithoutCancel(ctx), ns)
		}
		if rerr != nil {
			m.log.Error("undoing a refused alias", "alias", alias, "namespace", ns, "err", rerr)
		}
		return meta.AliasConfig{}, err
	}
	m.log.Info("alias created", "alias", alias, "primary", ns, "secondary_region", partner.Region, "secondary", partner.Namespace)
	m.poke()
	cur, _ := m.b.Alias(ns)
	return cur, nil
}

// localFacts gathers the pairing facts of local namespace ns, and whether alias is taken here.
func (m *Manager) localFacts(ns, alias string) (Facts, error) {
	n, _, err := m.b.NamespaceState(ns)
	if err != nil {
		return Facts{}, err
	}
	f := NamespaceFacts{Region: m.b.Region(), Name: n.Name, Tier: string(n.Tier), Cluster: n.Cluster,
		PrivateEndpoints: len(n.NetworkRules.PrivateEndpoints), EventHubs: len(n.Hubs)}
	if f.Tier == "" {
		f.Tier = string(meta.Standard)
	}
	for _, h := range n.Hubs {
		f.ConsumerGroups += len(h.Groups) - 1 // besides $Default
	}
	if n.Alias != nil {
		f.Alias = n.Alias.Name
	}
	out := Facts{Namespace: f, AliasTaken: alias != "" && m.b.NamespaceTaken(alias), Self: m.self(ns)}
	if holder, cfg, ok := m.b.AliasHolder(alias); ok && cfg.Lost && holder != ns {
		out.AliasTakenBy = fmt.Sprintf("namespace %s holds it from before a failover moved it away (epoch %d); delete it there first with 'tandem alias delete %s/%s'",
			holder, cfg.Epoch, holder, cfg.Name)
	}
	return out, nil
}

// pairSecondary makes local namespace ns the secondary of an alias whose primary asked. admin
// says the request came with this node's admin key (else a Manage rule of ns). The request's
// epoch is not taken: a new secondary starts at epoch 1 and takes the primary's epoch from its
// first snapshot, which the link key authenticates.
func (m *Manager) pairSecondary(ctx context.Context, ns string, req PairRequest, admin bool) (meta.Peer, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if err := meta.ValidAliasName(req.Alias); err != nil {
		return meta.Peer{}, err
	}
	if req.Primary.Endpoint != "" {
		if _, err := m.checkNewEndpoint(req.Primary.Endpoint, admin); err != nil {
			return meta.Peer{}, errcode.New(errcode.CodeOf(err), "the primary's endpoint: %w", err)
		}
	}
	if cur, ok := m.b.Alias(ns); ok && cur.Name == req.Alias && cur.Role == meta.RoleSecondary && cur.LinkKey == req.LinkKey {
		return m.self(ns), nil // the primary retried
	}
	if err := m.checkReserved(ns, req.Alias, admin, &req); err != nil {
		return meta.Peer{}, err
	}
	local, err := m.localFacts(ns, req.Alias)
	if err != nil {
		return meta.Peer{}, err
	}
	if err := CheckPairing(req.Alias, req.Facts, local.Namespace, local.AliasTaken); err != nil {
		return meta.Peer{}, err
	}
	if req.LinkKey == "" || req.Primary.Endpoint == "" || req.Primary.Namespace == "" {
		return meta.Peer{}, errcode.New(errcode.InvalidArgument, "a pair request needs the link key and the primary's endpoint and namespace")
	}
	primary := req.Primary
	cfg := meta.AliasConfig{Name: req.Alias, Role: meta.RoleSecondary, Epoch: 1, Partner: &primary,
		LinkKey: req.LinkKey, ProvisioningState: meta.ProvisioningAccepted}
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		return meta.Peer{}, err
	}
	m.update(ns, func(l *link) { l.needSync = true })
	m.log.Info("namespace paired as secondary", "alias", req.Alias, "namespace", ns,
		"primary_region", primary.Region, "primary", primary.Namespace)
	m.poke()
	return m.self(ns), nil
}

// BreakPairing runs on the primary: both namespaces become ordinary namespaces and the alias
// stays on the primary (role PrimaryNotReplicating). The secondary is told at once when
// reachable, else it learns on its next replication request.
func (m *Manager) BreakPairing(ctx context.Context, ns, alias string) (meta.AliasConfig, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, err := m.aliasOf(ns, alias)
	if err != nil {
		return cfg, err
	}
	switch {
	case cfg.Role == meta.RoleSecondary:
		return cfg, errcode.New(errcode.Conflict,
			"namespace %s is the secondary of alias %q; break the pairing on the primary, %s", ns, alias, describePeer(cfg.Partner))
	case !cfg.Paired() && cfg.ProvisioningState != meta.ProvisioningFailed:
		return cfg, errcode.New(errcode.Conflict, "alias %q of namespace %s is not paired; nothing to break", alias, ns)
	}
	partner := cfg.Partner
	cfg.Role, cfg.Partner, cfg.ProvisioningState, cfg.Reason = meta.RolePrimaryNotReplicating, nil, meta.ProvisioningSucceeded, ""
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		return cfg, err
	}
	if partner != nil {
		bctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := m.peer.breakPairing(bctx, partner.Endpoint, alias, cfg.LinkKey)
		cancel()
		if err != nil {
			m.log.Warn("could not tell the secondary the pairing is broken; it learns on its next replication request",
				"alias", alias, "secondary", partner.Namespace, "err", detail(err))
		}
	}
	m.log.Info("pairing broken", "alias", alias, "primary", ns)
	return cfg, nil
}

// FailoverResult is the outcome of a failover.
type FailoverResult struct {
	Alias meta.AliasConfig
	// FormerPrimaryNotified says whether the former primary was reachable and told at once;
	// if not, it learns from this region when it can reach it again (at its start-up and
	// periodically), and until then clients that still reach it directly can use it.
	FormerPrimaryNotified bool
}

// Failover runs on the secondary, and works while the primary's region is down: the
// secondary takes the alias at the next epoch and stops replicating (the pairing is broken;
// fail-forward only). Alias clients reach this region from now on.
func (m *Manager) Failover(ctx context.Context, ns, alias string) (FailoverResult, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, err := m.aliasOf(ns, alias)
	if err != nil {
		return FailoverResult{Alias: cfg}, err
	}
	if cfg.Role != meta.RoleSecondary {
		return FailoverResult{Alias: cfg}, errcode.New(errcode.Conflict,
			"namespace %s is not the secondary of alias %q (its role is %s); run failover against the secondary's region",
			ns, alias, cfg.Role)
	}
	former := cfg.Partner
	cfg.Role, cfg.Epoch, cfg.Partner, cfg.Former = meta.RolePrimaryNotReplicating, cfg.Epoch+1, nil, former
	cfg.ProvisioningState, cfg.Reason = meta.ProvisioningSucceeded, ""
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		return FailoverResult{Alias: cfg}, err
	}
	m.log.Warn("failover: this namespace now holds the alias", "alias", alias, "namespace", ns, "epoch", cfg.Epoch)
	res := FailoverResult{Alias: cfg}
	if former != nil {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := m.peer.fence(fctx, former.Endpoint, alias, cfg.LinkKey, FenceRequest{Epoch: cfg.Epoch, Holder: m.self(ns)})
		cancel()
		res.FormerPrimaryNotified = err == nil
		m.update(ns, func(l *link) {
			l.reachable, l.lastErr = err == nil, ""
			if err != nil {
				l.lastErr = err.Error()
			}
		})
		if err != nil {
			m.log.Warn("the former primary was not told of the failover; it learns when it can reach this region",
				"alias", alias, "former", describePeer(former), "err", detail(err))
		}
	}
	return res, nil
}

// Delete removes an alias that is not paired (break the pairing first). Its name stays
// reserved in this region for the pairing it belonged to (reserve.go).
func (m *Manager) Delete(ctx context.Context, ns, alias string) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, err := m.aliasOf(ns, alias)
	if err != nil {
		return err
	}
	if err := deletable(cfg, ns, alias); err != nil {
		return err
	}
	return m.b.RetireAlias(ctx, ns)
}

// aliasOf returns namespace ns's configuration of alias.
func (m *Manager) aliasOf(ns, alias string) (meta.AliasConfig, error) {
	if _, err := m.b.Namespace(ns); err != nil {
		return meta.AliasConfig{}, err
	}
	cfg, ok := m.b.Alias(ns)
	if !ok || !strings.EqualFold(cfg.Name, alias) {
		return meta.AliasConfig{}, errcode.New(errcode.NotFound,
			"namespace %s has no alias %q; list its aliases with 'tandem alias list %s'", ns, alias, ns)
	}
	return cfg, nil
}

// brokenByPrimary handles the primary's notice that it broke the pairing: the local
// secondary becomes an ordinary namespace.
func (m *Manager) brokenByPrimary(ctx context.Context, alias, linkKey string) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	ns, cfg, ok := m.b.AliasHolder(alias)
	if !ok {
		return nil // already gone
	}
	if !sameKey(linkKey, cfg.LinkKey) {
		return errcode.New(errcode.Unauthorized, "the link key does not match alias %q in region %s", alias, m.b.Region())
	}
	if cfg.Role != meta.RoleSecondary {
		return errcode.New(errcode.Conflict, "namespace %s is not the secondary of alias %q here", ns, alias)
	}
	if err := m.b.RetireAlias(ctx, ns); err != nil {
		return err
	}
	m.log.Info("the primary broke the pairing; this namespace is an ordinary namespace again", "alias", alias, "namespace", ns)
	return nil
}

// fencedByPeer handles a new primary's notice that a failover moved the alias to it.
func (m *Manager) fencedByPeer(ctx context.Context, alias, linkKey string, req FenceRequest) error {
	ns, cfg, ok := m.b.AliasHolder(alias)
	if !ok {
		return errcode.New(errcode.NotFound, "no namespace holds alias %q in region %s", alias, m.b.Region())
	}
	if !sameKey(linkKey, cfg.LinkKey) {
		return errcode.New(errcode.Unauthorized, "the link key does not match alias %q in region %s", alias, m.b.Region())
	}
	return m.fenceSelf(ctx, ns, alias, req, "notice from the new primary")
}
