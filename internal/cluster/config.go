package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Member is one node of the cluster as every node's configuration lists it.
type Member struct {
	ID       uint64 // raft node id: > 0, never reused for another machine
	Name     string // for logs and status; "node-<id>" unless given
	Zone     string // availability zone; replicas of a group go to distinct zones
	RaftAddr string // host:port other nodes dial for raft traffic
	// KafkaAddr is the host:port Kafka clients reach this node at (Metadata lists it); empty
	// when the node serves no Kafka listener. It is not part of the --cluster flag: `tandem
	// serve` sets it from each node's advertised Kafka address.
	KafkaAddr string
}

// Config is the cluster as this node sees it. Every node must be started with
// the same member list (ids, zones, addresses): placement is computed from it.
type Config struct {
	NodeID uint64
	Zone   string
	Nodes  []Member // sorted by ID
	Secret []byte   // cluster secret (raftnet handshake); required with peers
}

// MinSecretLen is the shortest cluster secret accepted when the cluster has
// more than one node (raftnet.MinSecretLen).
const MinSecretLen = 16

// Replicas is the replication factor of a partition group.
const Replicas = 3

// ParseConfig builds a Config from the flags of `tandem serve`:
//
//	--node-id N --zone Z --cluster ID=ZONE@HOST:PORT[/NAME],...
//
// e.g. --cluster 1=a@127.0.0.1:7001,2=b@127.0.0.2:7001,3=c@127.0.0.3:7001.
// An empty cluster list is a one-node cluster: this node alone, in zone Z
// (default "default"), with no raft address. It returns warnings (a
// configuration that works but is not zone-redundant) and an error that says
// what is wrong and how to fix it.
func ParseConfig(nodeID uint64, zone, cluster string, secret []byte) (Config, []string, error) {
	c := Config{NodeID: nodeID, Zone: zone, Secret: secret}
	if strings.TrimSpace(cluster) == "" {
		if nodeID == 0 {
			c.NodeID = 1
		}
		if c.Zone == "" {
			c.Zone = "default"
		}
		c.Nodes = []Member{{ID: c.NodeID, Name: memberName(c.NodeID), Zone: c.Zone}}
		w, err := c.Validate()
		return c, w, err
	}
	for _, item := range strings.Split(cluster, ",") {
		m, err := parseMember(strings.TrimSpace(item))
		if err != nil {
			return Config{}, nil, err
		}
		c.Nodes = append(c.Nodes, m)
	}
	slices.SortFunc(c.Nodes, func(a, b Member) int { return compareID(a.ID, b.ID) })
	if c.Zone == "" { // --zone may be left out: the list says it
		if m, ok := c.Member(c.NodeID); ok {
			c.Zone = m.Zone
		}
	}
	w, err := c.Validate()
	return c, w, err
}

func compareID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func memberName(id uint64) string { return "node-" + strconv.FormatUint(id, 10) }

// parseMember parses ID=ZONE@HOST:PORT[/NAME].
func parseMember(s string) (Member, error) {
	const shape = "each --cluster entry is ID=ZONE@HOST:PORT (optionally /NAME), e.g. 1=a@10.0.0.1:7001"
	idStr, rest, ok := strings.Cut(s, "=")
	if !ok {
		return Member{}, fmt.Errorf("cluster: entry %q has no '=': %s", s, shape)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(idStr), 10, 64)
	if err != nil || id == 0 {
		return Member{}, fmt.Errorf("cluster: entry %q: node id %q is not a positive integer: %s", s, idStr, shape)
	}
	zone, addr, ok := strings.Cut(rest, "@")
	if !ok || zone == "" {
		return Member{}, fmt.Errorf("cluster: entry %q has no zone: %s", s, shape)
	}
	m := Member{ID: id, Zone: zone, Name: memberName(id)}
	if a, name, ok := strings.Cut(addr, "/"); ok {
		if name == "" {
			return Member{}, fmt.Errorf("cluster: entry %q has an empty name after '/': %s", s, shape)
		}
		addr, m.Name = a, name
	}
	m.RaftAddr = addr
	return m, nil
}

// Member returns the member with the given id.
func (c Config) Member(id uint64) (Member, bool) {
	for _, m := range c.Nodes {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Self is this node's member entry.
func (c Config) Self() Member {
	m, _ := c.Member(c.NodeID)
	return m
}

// Peers returns the other members' raft addresses by id.
func (c Config) Peers() map[uint64]string {
	p := make(map[uint64]string)
	for _, m := range c.Nodes {
		if m.ID != c.NodeID {
			p[m.ID] = m.RaftAddr
		}
	}
	return p
}

// Zones returns the distinct zones, sorted.
func (c Config) Zones() []string {
	var zs []string
	for _, m := range c.Nodes {
		if !slices.Contains(zs, m.Zone) {
			zs = append(zs, m.Zone)
		}
	}
	slices.Sort(zs)
	return zs
}

// Validate checks the configuration. Warnings describe a cluster that works
// but is not zone-redundant; the error says what is wrong and what to do.
func (c Config) Validate() ([]string, error) {
	var errs []error
	if c.NodeID == 0 {
		errs = append(errs, errors.New("cluster: --node-id must be a positive integer"))
	}
	ids := map[uint64]bool{}
	addrs := map[string]uint64{}
	for _, m := range c.Nodes {
		if ids[m.ID] {
			errs = append(errs, fmt.Errorf("cluster: node id %d appears twice in --cluster; give every node its own id", m.ID))
		}
		ids[m.ID] = true
		if m.Zone == "" {
			errs = append(errs, fmt.Errorf("cluster: node %d has no zone; write ID=ZONE@HOST:PORT", m.ID))
		}
		if m.KafkaAddr != "" {
			if err := checkAddr(m.KafkaAddr); err != nil {
				errs = append(errs, fmt.Errorf("cluster: node %d's Kafka address: %w", m.ID, err))
			}
		}
		if len(c.Nodes) == 1 && m.RaftAddr == "" {
			continue // a one-node cluster needs no raft address
		}
		if err := checkAddr(m.RaftAddr); err != nil {
			errs = append(errs, fmt.Errorf("cluster: node %d: %w", m.ID, err))
			continue
		}
		if other, dup := addrs[m.RaftAddr]; dup {
			errs = append(errs, fmt.Errorf("cluster: nodes %d and %d have the same raft address %s; every node needs its own", other, m.ID, m.RaftAddr))
		}
		addrs[m.RaftAddr] = m.ID
	}
	self, ok := c.Member(c.NodeID)
	switch {
	case c.NodeID != 0 && !ok:
		errs = append(errs, fmt.Errorf("cluster: this node (--node-id %d) is not in --cluster; add %d=ZONE@HOST:PORT or fix --node-id", c.NodeID, c.NodeID))
	case ok && c.Zone != "" && c.Zone != self.Zone:
		errs = append(errs, fmt.Errorf("cluster: --zone %s but --cluster puts node %d in zone %s; make them agree", c.Zone, c.NodeID, self.Zone))
	}
	if len(c.Nodes) > 1 && len(c.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("cluster: a cluster of %d nodes needs a cluster secret of at least %d bytes (the same on every node)", len(c.Nodes), MinSecretLen))
	}
	var warns []string
	if z, want := len(c.Zones()), min(len(c.Nodes), Replicas); len(c.Nodes) > 1 && z < want {
		warns = append(warns, fmt.Sprintf("cluster: %d nodes in %d zone(s): some partitions keep more than one replica in a zone, so losing a zone can lose their majority; spread the nodes over %d zones", len(c.Nodes), z, want))
	}
	if n := len(c.Nodes); n == 2 {
		warns = append(warns, "cluster: 2 nodes tolerate no node failure (a majority of 2 is 2); use 3")
	}
	return warns, errors.Join(errs...)
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("raft address %q is not HOST:PORT: %v", addr, err)
	}
	if host == "" {
		return fmt.Errorf("raft address %q has no host: other nodes must be able to dial it", addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("raft address %q: port %q is not in 1-65535", addr, port)
	}
	return nil
}

// ReadSecretFile reads the cluster secret from path: the file's text with surrounding
// whitespace trimmed. A file that group or others may read is refused (anyone who reads it can
// join the cluster and read its data), as is a secret shorter than MinSecretLen.
func ReadSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster secret file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster secret file %s is readable by other users (mode %#o); anyone who read it can join the cluster. "+
			"Run chmod 600 %s (and, if others may have read it, change the secret on every node), then start again",
			path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster secret file: %w", err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("cluster secret file %s holds %d bytes; a cluster secret is at least %d (e.g. head -c 32 /dev/urandom | base64 > %s), the same on every node",
			path, len(secret), MinSecretLen, path)
	}
	return secret, nil
}
