package main

// Cluster mode of `tandem serve`: --cluster makes the node one member of a region cluster
// (internal/cluster: the raft WAL, transport and multi-raft host; internal/broker: metadata
// and partitions as raft groups). Without --cluster the node runs alone, as before.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/meta"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// clusterConfig are the cluster flags of `tandem serve`.
type clusterConfig struct {
	Members      string `yaml:"cluster"` // YAML: a list of ID=ZONE@HOST:PORT[/NAME]
	Zone         string `yaml:"zone"`
	SecretFile   string `yaml:"cluster-secret-file"`
	AdminKeyFile string `yaml:"admin-key-file"`
}

func addClusterFlags(f *pflag.FlagSet, c *clusterConfig) {
	f.StringVar(&c.Members, "cluster", "",
		"run as a member of a region cluster: every member as ID=ZONE@RAFTHOST:PORT[/NAME], comma-separated, the same ids and zones on every node "+
			"(e.g. 1=a@10.0.0.1:7001,2=b@10.0.0.2:7001,3=c@10.0.0.3:7001); --node-id is this node's id; the node listens for raft on its own entry's address")
	f.StringVar(&c.Zone, "zone", "", "availability zone of this node (default: its --cluster entry's zone, which it must match)")
	f.StringVar(&c.SecretFile, "cluster-secret-file", "",
		"file holding the cluster secret (at least 16 bytes of text, mode 0600), the same on every member; required with more than one member")
	f.StringVar(&c.AdminKeyFile, "admin-key-file", "",
		"file holding the admin key (mode 0600), shared by a region's nodes; default <data>/admin-key, made on first start")
}

// enabled reports whether the node runs in cluster mode.
func (c clusterConfig) enabled() bool { return c.Members != "" }

// clusterSetup is what cluster mode adds to a node: its raft node (nil without --cluster) and
// the client it calls other members' HTTP APIs with.
type clusterSetup struct {
	node     *cluster.Node
	peerHTTP *http.Client
}

// openClusterNode parses the cluster flags and starts the node's raft side; without --cluster
// it returns an empty setup. lns are the node's bound listeners (this node's Kafka address is
// put in its member entry) and peerTrust the TLS of calls to other nodes.
func openClusterNode(ctx context.Context, cfg serveConfig, lns *listeners, peerTrust *tls.Config,
	logger *slog.Logger, reg prometheus.Registerer) (clusterSetup, error) {
	cc := cfg.Cluster
	if !cc.enabled() {
		if cc.Zone != "" || cc.SecretFile != "" {
			return clusterSetup{}, errors.New("--zone and --cluster-secret-file belong to cluster mode: give --cluster too, or leave them out")
		}
		return clusterSetup{}, nil
	}
	if cfg.NodeID < 1 || cfg.NodeID > 65535 {
		return clusterSetup{}, fmt.Errorf("--cluster needs --node-id, this node's member id in the list (1 to 65535); got %d", cfg.NodeID)
	}
	var secret []byte
	if cc.SecretFile != "" {
		var err error
		if secret, err = cluster.ReadSecretFile(cc.SecretFile); err != nil {
			return clusterSetup{}, err
		}
	}
	ccfg, warns, err := cluster.ParseConfig(uint64(cfg.NodeID), cc.Zone, cc.Members, secret)
	if err != nil {
		if len(ccfg.Nodes) > 1 && len(secret) == 0 {
			err = fmt.Errorf("%w; give it with --cluster-secret-file", err)
		}
		return clusterSetup{}, err
	}
	for _, w := range warns {
		logger.Warn(w)
	}
	if len(ccfg.Nodes) == 1 && len(secret) == 0 {
		// A one-node cluster has nobody to talk raft with: without a secret it listens for none.
		ccfg.Nodes[0].RaftAddr = ""
	}
	for i := range ccfg.Nodes {
		if ccfg.Nodes[i].ID == ccfg.NodeID && lns.kafka != nil {
			ccfg.Nodes[i].KafkaAddr = advertised(cfg, lns.kafka.Addr())
		}
	}
	opts := cluster.Options{Config: ccfg, DataDir: cfg.Data, Logger: logger, Registerer: reg}
	if err := raftTLS(&opts, cfg, lns, logger); err != nil {
		return clusterSetup{}, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return clusterSetup{}, fmt.Errorf("creating data directory: %w", err)
	}
	node, err := cluster.Open(ctx, opts)
	if err != nil {
		return clusterSetup{}, err
	}
	return clusterSetup{node: node, peerHTTP: &http.Client{Transport: &http.Transport{
		TLSClientConfig: peerTrust, ResponseHeaderTimeout: 30 * time.Second, IdleConnTimeout: time.Minute,
	}}}, nil
}

// raftTLS puts raft traffic inside TLS when the node has a certificate and --tls-ca names the CA
// that signed every member's certificate: each node presents its certificate and checks the
// peer's against the CA and the host of the peer's raft address. Peers are authenticated by the
// cluster secret either way; without --tls-ca (a dev CA is each node's own) raft is plaintext,
// which a multi-member cluster logs.
func raftTLS(opts *cluster.Options, cfg serveConfig, lns *listeners, logger *slog.Logger) error {
	if lns.tls == nil {
		return nil
	}
	if cfg.TLSCA == "" {
		if len(opts.Config.Nodes) > 1 {
			logger.Warn("raft traffic between the cluster's nodes is not encrypted (only authenticated by the cluster secret); " +
				"give --tls-ca, the CA that signed every node's certificate, to put it inside TLS")
		}
		return nil
	}
	client, err := tlsconf.Client(cfg.TLSCA)
	if err != nil {
		return fmt.Errorf("--tls-ca for raft: %w", err)
	}
	opts.ServerTLS, opts.ClientTLS = lns.tls.server.Clone(), client
	return nil
}

// brokerOptions adds the cluster's part to the broker's options.
func (s clusterSetup) brokerOptions(o broker.Options, cfg serveConfig) broker.Options {
	o.AdminKeyFile = cfg.Cluster.AdminKeyFile
	if s.node != nil {
		o.Cluster, o.PeerHTTP = s.node, s.peerHTTP
	}
	return o
}

// close stops the raft node when the broker did not take it over.
func (s clusterSetup) close() {
	if s.node != nil {
		s.node.Close()
	}
}

// withSegments mounts the node-to-node segment route (broker.SegmentsPath, signed with the
// cluster secret) in front of the API; without a cluster it returns h unchanged.
func withSegments(h http.Handler, b *broker.Broker) http.Handler {
	seg := b.SegmentHandler()
	if seg == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(broker.SegmentsPath, seg)
	mux.Handle("/", h)
	return mux
}

// recordEndpoints tells the broker where clients and other nodes reach this node, and returns
// the ready line's cluster part (" node=N"; "" on a single node).
func (s clusterSetup) recordEndpoints(b *broker.Broker, cfg serveConfig, lns *listeners, httpEndpoint string) string {
	if s.node == nil {
		return ""
	}
	e := meta.Endpoints{HTTP: httpEndpoint}
	if lns.kafka != nil {
		e.Kafka = advertised(cfg, lns.kafka.Addr())
	}
	if lns.kafkaTLS != nil {
		e.KafkaTLS = advertised(cfg, lns.kafkaTLS.Addr())
	}
	b.SetEndpoints(e)
	return fmt.Sprintf(" node=%d", s.node.Config().NodeID)
}
