package nodeproc

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Region is a region cluster run on one machine (`tandem dev --nodes 3`, tests): node k
// (1..Nodes) is member k in zone a, b, c, … named REGION-ZONE, with data in Dir/node-k and its
// log in Dir/node-k.log. Every node reads the region's cluster secret (Dir/cluster-secret) and
// admin key (Dir/admin-key), both mode 0600, made at the first Prepare and kept after.
type Region struct {
	Name  string // the region: serve's --region
	Exe   string
	Dir   string
	Nodes int
	Host  string // the address every node listens at; "" is 127.0.0.1
	// KafkaPort, HTTPPort and RaftPort are node 1's ports; node k listens at port+k-1. Port 0
	// gives every node a free port (raft ports are picked by Prepare: the members' list names
	// them before any node starts).
	KafkaPort, HTTPPort, RaftPort int
	// AMQPPort is node 1's AMQP port (node k: port+k-1); 0, the zero value, gives every node a
	// free port, so that nodes never collide on serve's default 5672.
	AMQPPort int
	// Args are more serve flags for every node, such as --dev.
	Args []string
	// Listen, when set, turns a node's Kafka and HTTP addresses into its listeners (a TLS
	// setup moves the Kafka port to the TLS listener); nil takes them as the plaintext Kafka
	// listener and the API. An AMQP address it leaves "" is the node's AMQPPort.
	Listen func(kafka, http string) Listen
}

// SecretFile is the region's cluster secret file.
func (r Region) SecretFile() string { return filepath.Join(r.Dir, "cluster-secret") }

// AdminKeyFile is the region's admin key file, shared by its nodes.
func (r Region) AdminKeyFile() string { return filepath.Join(r.Dir, "admin-key") }

// NodeName is node k's member name (and Spec name): REGION-ZONE.
func (r Region) NodeName(k int) string { return r.Name + "-" + Zone(k) }

// Zone is node k's zone: a, b, c, …
func Zone(k int) string { return string(rune('a' + k - 1)) }

func (r Region) host() string {
	if r.Host == "" {
		return "127.0.0.1"
	}
	return r.Host
}

func (r Region) addr(port, k int) string {
	if port != 0 {
		port += k - 1
	}
	return net.JoinHostPort(r.host(), strconv.Itoa(port))
}

// Prepare creates Dir (0700), the secret and admin key files when they do not exist, and
// returns every node's Spec.
func (r Region) Prepare() ([]Spec, error) {
	if r.Nodes < 1 || r.Nodes > 26 {
		return nil, fmt.Errorf("region %s: %d nodes; a region here has 1 to 26 (one zone letter each)", r.Name, r.Nodes)
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("region %s: creating %s: %w", r.Name, r.Dir, err)
	}
	for _, f := range []string{r.SecretFile(), r.AdminKeyFile()} {
		if err := ensureKeyFile(f); err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err)
		}
	}
	members, err := r.members()
	if err != nil {
		return nil, err
	}
	specs := make([]Spec, r.Nodes)
	for k := 1; k <= r.Nodes; k++ {
		kafka, http := r.addr(r.KafkaPort, k), r.addr(r.HTTPPort, k)
		l := Listen{Kafka: kafka, HTTP: http}
		if r.Listen != nil {
			l = r.Listen(kafka, http)
		}
		if l.AMQP == "" {
			l.AMQP = r.addr(r.AMQPPort, k)
		}
		args := append([]string{"--region", r.Name, "--node-id", strconv.Itoa(k), "--zone", Zone(k),
			"--cluster", members, "--cluster-secret-file", r.SecretFile(), "--admin-key-file", r.AdminKeyFile()}, r.Args...)
		specs[k-1] = Spec{Name: "node " + r.NodeName(k), Exe: r.Exe, Args: args,
			DataDir: filepath.Join(r.Dir, "node-"+strconv.Itoa(k)), Listen: l,
			Log: filepath.Join(r.Dir, "node-"+strconv.Itoa(k)+".log")}
	}
	return specs, nil
}

// members is serve's --cluster list: ID=ZONE@HOST:RAFTPORT/NAME for every node.
func (r Region) members() (string, error) {
	items := make([]string, r.Nodes)
	for k := 1; k <= r.Nodes; k++ {
		addr := r.addr(r.RaftPort, k)
		if r.RaftPort == 0 {
			var err error
			if addr, err = freeAddr(r.host()); err != nil {
				return "", fmt.Errorf("region %s: finding a free raft port for node %d: %w", r.Name, k, err)
			}
		}
		items[k-1] = fmt.Sprintf("%d=%s@%s/%s", k, Zone(k), addr, r.NodeName(k))
	}
	return strings.Join(items, ","), nil
}

// freeAddr is host with a port free right now (another process may take it before the node
// binds it; the node then fails to start and says so), never one this process handed out
// before: the OS may return a port again once its probe is closed, and two regions' nodes
// (tandem dev --nodes 3 --raft-port 0) must not get the same one.
func freeAddr(host string) (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port on %s that this process has not handed out already", host)
}

// handedOut are the addresses freeAddr returned.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// ensureKeyFile writes 32 random bytes, base64, to path (mode 0600) unless it exists; an
// existing file must not be readable by others (serve refuses it then, later and less clearly).
func ensureKeyFile(path string) error {
	st, err := os.Stat(path)
	if err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s is readable by other users (mode %#o); run chmod 600 %s", path, st.Mode().Perm(), path)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	_, err = f.WriteString(base64.RawURLEncoding.EncodeToString(b[:]) + "\n")
	return errors.Join(err, f.Sync(), f.Close())
}
