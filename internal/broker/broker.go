// Package broker is a region node's event-hub engine: it owns the partitions of every event
// hub (their logs and idempotent-producer state), the metadata store (namespaces, hubs,
// consumer groups, checkpoints, policies) and the consumer-group coordinator. Protocol
// front ends (internal/kafka, internal/httpapi) authenticate through it and call it; it knows
// nothing of wire formats beyond the Kafka v2 record batch it stores verbatim.
//
// The append step (Partition.Apply) is deterministic and separate from any handler, so a
// consensus layer can later apply committed batches through it on every replica.
package broker

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/group"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Defaults that follow Event Hubs.
const (
	DefaultPartitions    = 4
	MaxPartitions        = 1024
	DefaultMaxEventBytes = 1 << 20
	DefaultRetention     = 24 * time.Hour
	DevNamespace         = "default"
)

// Options configure a Broker.
type Options struct {
	DataDir      string
	Region       string
	NodeID       int32
	Dev          bool // create namespace "default" and let anonymous clients act in it
	Fsync        seglog.FsyncPolicy
	SegmentBytes int64
	Logger       *slog.Logger
	Now          func() time.Time
	Registerer   prometheus.Registerer
	// RetentionCheck is how often retention runs over open partitions (default 1 minute).
	RetentionCheck time.Duration
	// MaxOpenLogFiles bounds the partition segment files (one fd each) kept open: beyond it
	// the least recently used idle partitions close their files and reopen them on demand.
	// 0 means DefaultMaxOpenLogFiles().
	MaxOpenLogFiles int
	// FS holds the partition logs (default the operating system's); tests pass a filesystem
	// that loses unsynced writes at a kill (internal/lazyfs).
	FS seglog.FS
	// Quotas bound what tenants may create and hold (quota.go).
	Quotas Quotas
	// DecodeMemory bounds the bytes event readers hold at once for zstd windows and snappy
	// batches (decodemem.go); 0 means DefaultDecodeMemory.
	DecodeMemory int64
	// Cluster, when set, runs this broker as a node of a region cluster (cluster.go): the
	// metadata and the partitions placed on this node are raft groups on the node, which the
	// broker owns from Open on and closes in Close. nil is a single node.
	Cluster *cluster.Node
	// AdminKeyFile, when set, holds the admin key (shared by a region's nodes; mode 0600) instead
	// of <DataDir>/admin-key.
	AdminKeyFile string
	// PeerHTTP is the client for node-to-node HTTP calls in a cluster (a replica fetching
	// segments from a peer); nil means http.DefaultClient. With TLS it trusts the nodes' CA.
	PeerHTTP *http.Client
	// LeaderBalanceInterval is how often, in a cluster, the node hands partition leadership
	// back to preferred leaders (cluster_balance.go); 0 means DefaultLeaderBalanceInterval,
	// negative turns balancing off.
	LeaderBalanceInterval time.Duration
	// AMQPAddr is the host:port clients reach this node's plain AMQP listener at (the
	// advertised address), "" when the node serves no AMQP. GET /cluster reports it for the
	// node and `tandem connection-string --amqp` builds the emulator-style string from it; in
	// a cluster the node records it in the metadata with its other endpoints.
	AMQPAddr string
}

// Broker is a region node's engine. Create it with Open; Close releases everything.
type Broker struct {
	opts    Options
	log     *slog.Logger
	meta    meta.Backend
	cl      *clusterMode // nil on a single node
	groups  *group.Manager
	pids    *producerIDs
	metrics *metrics
	hubs    atomicHubs
	// hubsAt is the metadata index hubs reflects; stored after hubs.
	hubsAt atomic.Uint64
	// refreshMu serialises refreshHubs, so a slower refresh never stores an older index
	// over a newer one.
	refreshMu sync.Mutex
	files     *seglog.FileBudget // open segment files across every partition
	// decodeMem is shared by every ReadEach (HTTP receives, jobs).
	decodeMem *decodeMemory
	// adminKey grants every right on this node (the CLI's credential).
	adminKey string
	// quotaMu serialises creations checked against a quota with their proposal.
	quotaMu sync.Mutex

	// mu guards the map of local partitions only: a partition opens outside it (partopen.go).
	mu struct {
		sync.Mutex
		parts  map[partKey]*partSlot
		closed bool // Close has run: no partition opens any more
	}

	stop chan struct{}
	wg   sync.WaitGroup
}

// partKey names a partition of one incarnation of a hub: a hub deleted and created again
// under the same name is a new incarnation with new, empty partitions.
type partKey struct {
	ns, hub, incarnation string
	id                   int32
}

// Open starts a broker on opts.DataDir, recovering metadata and creating the dev namespace
// when asked.
func Open(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LeaderBalanceInterval == 0 {
		opts.LeaderBalanceInterval = DefaultLeaderBalanceInterval
	}
	if opts.RetentionCheck == 0 {
		opts.RetentionCheck = time.Minute
	}
	if opts.MaxOpenLogFiles <= 0 {
		opts.MaxOpenLogFiles = DefaultMaxOpenLogFiles()
	}
	b := &Broker{opts: opts, log: opts.Logger.With("component", "broker"), stop: make(chan struct{})}
	if err := b.prepareDataDir(); err != nil {
		return nil, err
	}
	b.files = seglog.NewFileBudget(opts.MaxOpenLogFiles, b.log)
	if opts.DecodeMemory <= 0 {
		opts.DecodeMemory = DefaultDecodeMemory
	}
	b.decodeMem = newDecodeMemory(opts.DecodeMemory)
	b.mu.parts = make(map[partKey]*partSlot)
	var err error
	if b.pids, err = openProducerIDs(opts.DataDir); err != nil {
		return nil, err
	}
	if opts.Cluster != nil {
		self := opts.Cluster.Config().NodeID
		if self > maxClusterNodeID {
			return nil, errcode.New(errcode.InvalidArgument, "cluster node id %d is above %d, the largest a broker supports", self, maxClusterNodeID)
		}
		b.pids.node = self
		rs, err := openClusterMeta(opts)
		if err != nil {
			return nil, err
		}
		b.meta = rs
		b.cl = &clusterMode{node: opts.Cluster, self: self, rs: rs, reps: map[uint64]*replica{}}
	} else if err := checkNotClusterData(opts.DataDir); err != nil {
		return nil, err
	} else if b.meta, err = openMeta(opts); err != nil {
		return nil, err
	}
	b.groups = group.NewManager(group.Options{Config: opts.Quotas.groupConfig()})
	b.metrics = newMetrics(opts.Registerer, b)
	b.registerFileMetrics(opts.Registerer)
	if err := b.bootstrap(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if b.cl != nil {
		b.startCluster()
	}
	b.wg.Add(1)
	go b.retentionLoop()
	return b, nil
}

// Close stops background work and closes every partition and the metadata store.
func (b *Broker) Close() error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	close(b.stop)
	var first error
	if b.cl != nil {
		b.cl.cancel()
	}
	b.wg.Wait()
	if b.cl != nil {
		first = b.closeCluster()
	}
	b.groups.Close()
	if err := b.closePartitions(); err != nil && first == nil {
		first = err
	}
	if err := b.meta.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// Groups is the consumer-group coordinator.
func (b *Broker) Groups() *group.Manager { return b.groups }

// Region is the region name this node serves.
func (b *Broker) Region() string { return b.opts.Region }

// ClusterID identifies this region's cluster in Kafka Metadata.
func (b *Broker) ClusterID() string {
	if b.opts.Region == "" {
		return "tandem"
	}
	return "tandem-" + b.opts.Region
}

// Node is a Kafka broker endpoint as Metadata reports it.
type Node struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   string // the node's zone in a cluster; "" on a single node
}

// KafkaNodes lists the brokers a client should talk to: this node (or, in a cluster, every
// member), or, for a client that came in through a geo-DR alias that is active in the other
// region, that region's brokers (so any node of any region can bootstrap an alias client: it
// asks them for Metadata next and finds the partitions' leaders there).
func (b *Broker) KafkaNodes(p Principal, selfHost string, selfPort int32) []Node {
	if nodes := b.aliasKafkaNodes(p); len(nodes) > 0 {
		return nodes
	}
	if b.cl != nil {
		return b.clusterKafkaNodes(selfPort)
	}
	return []Node{{NodeID: b.opts.NodeID, Host: selfHost, Port: selfPort}}
}

// aliasKafkaNodes are the brokers of the region that holds p's alias when that is not this
// one: every node of a cluster region (Peer.Nodes), else its one listener; nil for a client
// that is not an alias client or whose alias is active here.
func (b *Broker) aliasKafkaNodes(p Principal) []Node {
	if p.Alias == "" {
		return nil
	}
	holder, cfg, ok := b.AliasHolder(p.Alias)
	if !ok || holder != p.Namespace {
		return nil
	}
	peer := cfg.ActivePeer()
	if peer == nil {
		return nil
	}
	var out []Node
	for _, n := range peer.Nodes {
		if node, ok := kafkaNode(n.ID, n.Kafka, n.Zone); ok {
			out = append(out, node)
		}
	}
	if len(out) == 0 && len(peer.Kafka) > 0 {
		// A single-node region: its one listener serves every partition.
		if node, ok := kafkaNode(peer.NodeID, peer.Kafka[0], ""); ok {
			out = append(out, node)
		}
	}
	return out
}

// kafkaNode parses a host:port into a Node; false when it is not one.
func kafkaNode(id int32, addr, rack string) (Node, bool) {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseInt(port, 10, 32)
	if err != nil || perr != nil {
		return Node{}, false
	}
	return Node{NodeID: id, Host: host, Port: int32(n), Rack: rack}, true
}

// InitProducerID allocates a producer id never handed out before on this node.
func (b *Broker) InitProducerID(ctx context.Context) (int64, error) { return b.pids.allocate() }

// Partition returns partition id of hub ns/hub, opening its log on first use.
func (b *Broker) Partition(ns, hub string, id int32) (*Partition, error) {
	h, err := b.Hub(ns, hub)
	if err != nil {
		return nil, err
	}
	return b.partitionOf(h, id)
}

func checkPartitionID(h HubInfo, id int32) error {
	if id < 0 || id >= h.Partitions {
		return errcode.New(errcode.PartitionNotFound,
			"partition %d does not exist in event hub %s/%s, which has partitions 0 to %d", id, h.Namespace, h.Name, h.Partitions-1)
	}
	return nil
}

func (b *Broker) partitionOf(h HubInfo, id int32) (*Partition, error) {
	if err := checkPartitionID(h, id); err != nil {
		return nil, err
	}
	if b.cl != nil {
		r, err := b.leaderReplica(h, id)
		if err != nil {
			return nil, err
		}
		return r.rp.Partition(), nil
	}
	return b.localPartition(h, id)
}

func (b *Broker) hubDir(ns, hub, incarnation string) string {
	return filepath.Join(b.opts.DataDir, "hubs", ns, hub+"."+incarnation)
}

func (b *Broker) partitionDir(h HubInfo, id int32) string {
	return filepath.Join(b.hubDir(h.Namespace, h.Name, h.Incarnation), fmt.Sprint(id))
}

// Append validates a Kafka record set (one or more v2 batches) for partition id of ns/hub
// and applies every batch, stamped with the current time as enqueued time. Either every
// batch is valid and applied, or none is.
func (b *Broker) Append(ns, hub string, id int32, records []byte) (AppendResult, *Partition, error) {
	h, err := b.writableHub(ns, hub)
	if err != nil {
		return AppendResult{}, nil, err
	}
	if err := checkPartitionID(h, id); err != nil {
		return AppendResult{}, nil, err
	}
	batches, err := batch.SplitComplete(records)
	if err != nil {
		return AppendResult{}, nil, errcode.New(errcode.CorruptData, "record set for %s/%s partition %d: %w", ns, hub, id, err)
	}
	if len(batches) == 0 {
		return AppendResult{}, nil, errcode.New(errcode.InvalidArgument, "empty record set for %s/%s partition %d", ns, hub, id)
	}
	events := 0
	for _, bb := range batches {
		hdr, err := batch.Validate(bb)
		if err != nil {
			return AppendResult{}, nil, err
		}
		if hdr.IsTransactional() || hdr.IsControl() {
			return AppendResult{}, nil, errcode.New(errcode.InvalidArgument, "transactional batches are not supported; use an idempotent producer without a transactional id")
		}
		if max, err := batch.MaxRecordSize(bb); err != nil {
			return AppendResult{}, nil, err
		} else if max > int(h.MaxEventBytes) {
			return AppendResult{}, nil, errcode.New(errcode.MessageTooLarge,
				"an event of %d bytes (key, value and headers) exceeds the maximum event size of event hub %s/%s (%d bytes); send smaller events or fewer headers, or raise the hub's max event size",
				max, ns, hub, h.MaxEventBytes)
		}
		events += int(hdr.NumRecords)
	}
	return b.appendValidated(h, id, batches, events, len(records))
}

// appendValidated applies validated batches holding events events (bytes in all) to partition
// id of h, on this node or through the partition's raft group, and counts them.
func (b *Broker) appendValidated(h HubInfo, id int32, batches [][]byte, events, bytes int) (AppendResult, *Partition, error) {
	var res AppendResult
	var p *Partition
	var err error
	if b.cl != nil {
		res, p, err = b.clusterAppend(h, id, batches)
	} else {
		res, p, err = b.applyLocal(h, id, batches)
	}
	if err != nil {
		return AppendResult{}, nil, err
	}
	b.metrics.inEvents.WithLabelValues(h.Namespace, h.Name).Add(float64(events))
	b.metrics.inBytes.WithLabelValues(h.Namespace, h.Name).Add(float64(bytes))
	return res, p, nil
}

// applyLocal applies validated batches to the partition's log on this node (a single node).
func (b *Broker) applyLocal(h HubInfo, id int32, batches [][]byte) (AppendResult, *Partition, error) {
	p, err := b.partitionOf(h, id)
	if err != nil {
		return AppendResult{}, nil, err
	}
	appendTime := b.opts.Now().UnixMilli()
	var res AppendResult
	for i, bb := range batches {
		r, err := p.Apply(bb, appendTime)
		if err != nil {
			return AppendResult{}, nil, err
		}
		if i == 0 {
			res = r
		}
		res.LastOffset = r.LastOffset
		res.Duplicate = res.Duplicate && r.Duplicate
	}
	return res, p, nil
}

// Read appends whole batches of p from offset to dst (which may be nil), counting them as
// outgoing, and returns the extended slice, as append does.
func (b *Broker) Read(dst []byte, p *Partition, offset int64, maxBytes int) ([]byte, error) {
	if err := p.checkOffset(offset); err != nil {
		if b.cl == nil || offset <= p.EndOffset() {
			return dst, err
		}
		// Past the end: a leader that lost its leadership without knowing it yet must not
		// say so (cluster_epoch.go). After the check the end may have moved.
		if cerr := b.confirmLeaderPast(p, offset); cerr != nil {
			return dst, cerr
		}
		if err := p.checkOffset(offset); err != nil {
			return dst, err
		}
	}
	out, err := p.ReadAppend(dst, offset, maxBytes)
	if err != nil {
		return dst, err
	}
	recs := out[len(dst):]
	if len(recs) == 0 {
		return out, nil
	}
	events := 0
	for rest := recs; len(rest) >= batch.HeaderSize; {
		h, err := batch.PeekHeader(rest)
		if err != nil || h.Size() > len(rest) {
			break
		}
		events += int(h.NumRecords)
		rest = rest[h.Size():]
	}
	b.metrics.outEvents.WithLabelValues(p.Namespace, p.Hub).Add(float64(events))
	b.metrics.outBytes.WithLabelValues(p.Namespace, p.Hub).Add(float64(len(recs)))
	return out, nil
}

func (b *Broker) retentionLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.RetentionCheck)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			for _, p := range b.openPartitions() {
				if n, err := p.log.ApplyRetention(); err != nil {
					b.log.Warn("retention failed", "namespace", p.Namespace, "eventhub", p.Hub, "partition", p.ID, "err", err)
				} else if n > 0 {
					b.log.Info("retention deleted segments", "namespace", p.Namespace, "eventhub", p.Hub, "partition", p.ID, "segments", n)
				}
			}
			b.applyReplicaRetention()
		}
	}
}

// DefaultMaxOpenLogFiles is the budget of open partition segment files when none is set: half
// the process's limit of open files (RLIMIT_NOFILE, which Go raises to the hard limit at
// start), leaving the other half to connections and other files; at least 64.
func DefaultMaxOpenLogFiles() int {
	return max(openFileLimit()/2, 64)
}

// OpenLogFiles is the number of partition segment files open now, and the budget.
func (b *Broker) OpenLogFiles() (open, budget int) { return b.files.Open(), b.files.Limit() }

func (b *Broker) registerFileMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_log_files_open",
			Help: "Partition segment files open (each holds a file descriptor)."},
			func() float64 { return float64(b.files.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_log_files_budget",
			Help: "Budget of open partition segment files (--max-open-log-files)."},
			func() float64 { return float64(b.files.Limit()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tandem_log_file_evictions_total",
			Help: "Idle partitions whose files were closed to stay within the budget; they reopen on use."},
			func() float64 { return float64(b.files.Evictions()) }),
	)
}

// topicID derives a stable 16-byte Kafka topic id for a hub incarnation. The namespace is
// left out on purpose: a geo-DR secondary replicates the hub with its creation time, so both
// regions give it the same id, and a client that read Metadata in one region fetches by topic
// id in the other. A connection sees the hubs of one namespace only.
func topicID(hub, incarnation string) [16]byte {
	sum := sha256.Sum256([]byte(hub + "/" + incarnation))
	var id [16]byte
	copy(id[:], sum[:16])
	return id
}
