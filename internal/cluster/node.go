package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
	"github.com/tandem-streaming/tandem/internal/raftnet"
	"github.com/tandem-streaming/tandem/internal/raftwal"
)

// Options configure a Node.
type Options struct {
	Config  Config
	DataDir string    // the WAL lives in <DataDir>/raft
	FS      seglog.FS // nil: the operating system's
	// ServerTLS and ClientTLS secure raft traffic (both or neither).
	ServerTLS, ClientTLS *tls.Config
	Logger               *slog.Logger
	Registerer           prometheus.Registerer // nil: no metrics
	TickInterval         time.Duration         // raft tick; default 100ms (election after 10 ticks)
	// SnapshotEntries: applied entries between a group's snapshots (raft log compactions);
	// 0: multiraft's default (10000). Tests lower it to make lagging replicas need snapshots.
	SnapshotEntries int
	// Dialer, when set, opens raft connections (tests route links through
	// internal/faultproxy); nil dials directly.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
}

// Node is one running node of the cluster: its WAL, its transport and its
// multi-raft host.
type Node struct {
	cfg       Config
	log       *slog.Logger
	wal       *raftwal.WAL
	transport *raftnet.Transport // nil in a one-node cluster without a raft address
	host      *multiraft.Host
	hostPtr   atomic.Pointer[multiraft.Host] // set once the host exists, for incoming batches
	closeOnce sync.Once
	closeErr  error
}

// Open starts a node: it recovers the WAL in <DataDir>/raft, starts the host
// and listens on this node's raft address. Groups are started with AddGroup
// (their state machines are the caller's).
func Open(ctx context.Context, opts Options) (*Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FS == nil {
		opts.FS = seglog.OSFS{}
	}
	cfg := opts.Config
	n := &Node{cfg: cfg, log: opts.Logger.With("node", cfg.NodeID)}
	wal, err := raftwal.Open(raftwal.Options{Dir: filepath.Join(opts.DataDir, "raft"), FS: opts.FS, Logger: n.log, Registerer: opts.Registerer})
	if err != nil {
		return nil, fmt.Errorf("cluster: open the raft WAL in %s: %w", filepath.Join(opts.DataDir, "raft"), err)
	}
	n.wal = wal
	var tr multiraft.Transport = noPeers{}
	if self := cfg.Self(); len(cfg.Nodes) > 1 || self.RaftAddr != "" {
		to := raftnet.Options{
			NodeID: cfg.NodeID, Addr: self.RaftAddr, Peers: cfg.Peers(), Secret: cfg.Secret,
			ServerTLS: opts.ServerTLS, ClientTLS: opts.ClientTLS,
			Handler: n.deliver, Logger: n.log, Registerer: opts.Registerer,
		}
		if opts.Dialer != nil {
			to.Dialer = opts.Dialer
		}
		if n.transport, err = raftnet.New(to); err != nil {
			return nil, errors.Join(fmt.Errorf("cluster: %w", err), wal.Close())
		}
		tr = netTransport{n.transport}
	}
	host, err := multiraft.New(multiraft.Options{
		NodeID: cfg.NodeID, LogStore: walStore{wal}, Transport: tr,
		TickInterval: opts.TickInterval, SnapshotEntries: opts.SnapshotEntries, Logger: n.log, Registerer: opts.Registerer,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cluster: %w", err), wal.Close())
	}
	n.host = host
	n.hostPtr.Store(host)
	if n.transport != nil {
		if err := n.transport.Start(); err != nil {
			return nil, errors.Join(fmt.Errorf("cluster: %w", err), n.transport.Close(), host.Close(), wal.Close())
		}
	}
	n.log.Info("cluster: node started", "zone", cfg.Zone, "nodes", len(cfg.Nodes), "wal_groups", len(wal.Groups()))
	return n, nil
}

// deliver hands a batch from the transport to the host.
func (n *Node) deliver(envs []raftnet.Envelope) {
	h := n.hostPtr.Load()
	if h == nil {
		return // not started yet: raft retransmits
	}
	out := make([]multiraft.Envelope, len(envs))
	for i, e := range envs {
		out[i] = multiraft.Envelope(e)
	}
	h.Deliver(out)
}

// Close stops the transport (no more traffic in or out), then the host (its
// goroutines and waiting proposals), then closes the WAL. State machines are
// the caller's to close afterwards.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.transport != nil {
			errs = append(errs, n.transport.Close())
		}
		errs = append(errs, n.host.Close(), n.wal.Close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// Config is the node's cluster configuration.
func (n *Node) Config() Config { return n.cfg }

// Host is the multi-raft host, for what the pass-throughs below do not cover.
func (n *Node) Host() *multiraft.Host { return n.host }

// WALGroups lists the groups with durable state in the WAL (to restart them).
func (n *Node) WALGroups() []uint64 { return n.wal.Groups() }

// AddGroup starts a raft group on this node (multiraft.Host.AddGroup).
func (n *Node) AddGroup(group uint64, peers []uint64, sm multiraft.StateMachine, join bool) error {
	return n.host.AddGroup(group, peers, sm, join)
}

// Propose replicates data in group (multiraft.Host.Propose).
func (n *Node) Propose(ctx context.Context, group uint64, data []byte) (uint64, error) {
	return n.host.Propose(ctx, group, data)
}

// Status reports a group's raft state on this node.
func (n *Node) Status(group uint64) (multiraft.Status, error) { return n.host.Status(group) }

// Confirmed reports whether this node leads group and has applied an entry of its term.
func (n *Node) Confirmed(group uint64) bool { return n.host.Confirmed(group) }

// TransferLeader asks this node, the group's leader, to hand leadership to node to.
func (n *Node) TransferLeader(group, to uint64) error { return n.host.TransferLeader(group, to) }

// walStore is the host's LogStore over the WAL: the types have the same
// fields, the WAL's Storage keeps the ConfState the host records.
type walStore struct{ wal *raftwal.WAL }

func (s walStore) Save(updates []multiraft.Update) error {
	us := make([]raftwal.Update, len(updates))
	for i, u := range updates {
		us[i] = raftwal.Update(u)
	}
	return s.wal.Save(us)
}

func (s walStore) Storage(group uint64) multiraft.Storage { return s.wal.Storage(group) }

// RemoveGroup durably forgets a removed group's raft state (multiraft.GroupRemover).
func (s walStore) RemoveGroup(group uint64) error { return s.wal.RemoveGroup(group) }

// netTransport is the host's Transport over raftnet.
type netTransport struct{ t *raftnet.Transport }

func (t netTransport) Send(envs []multiraft.Envelope) {
	out := make([]raftnet.Envelope, len(envs))
	for i, e := range envs {
		out[i] = raftnet.Envelope(e)
	}
	t.t.Send(out)
}

// noPeers is the transport of a one-node cluster: there is nobody to send to.
type noPeers struct{}

func (noPeers) Send([]multiraft.Envelope) {}
