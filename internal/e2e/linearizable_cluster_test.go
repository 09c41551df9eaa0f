package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/linz"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// TestClusterMetadataLinearizable is TestMetadataLinearizable against a region of three real
// `tandem serve --cluster` processes (127.0.0.1 to .3): six clients send each operation to one
// of the nodes at random, so a write through one node and a read through another meet in the
// history, while a nemesis kills a node with SIGKILL and restarts it a few times (the
// metadata leader first, then a random node), pauses the metadata leader with SIGSTOP for
// longer than an election timeout and resumes it (an old leader that wakes up must not answer
// from its stale state), and cuts the metadata leader's raft links (through fault proxies)
// while clients still reach it, then heals them; and again, in that order. The whole history is checked with porcupine against the API's promise (linz.Spec{}, no deviation).
// A call without an answer (a timeout, a reset connection, a 503 that says the change may
// still be applied) is a write that may take effect at any later time, or a read that is
// dropped; a call refused before it reached a node (ECONNREFUSED) did not happen.
// TANDEM_LINZ_SOAK, _SEED and _GAP work as for TestMetadataLinearizable; TANDEM_LINZ_CLIENTS
// sets the number of clients (default 6; more leaves more calls in flight at each fault).
func TestClusterMetadataLinearizable(t *testing.T) {
	run, faults, gap, seed := linzParams(t, 30*time.Second, 4, 8*time.Second)
	keyFile := filepath.Join(t.TempDir(), "admin-key")
	key := writeAdminKey(t, keyFile)
	var links raftLinks
	r := startZoneRegionWith(t, nil, func(i, raftPort int, spec *nodeproc.Spec) {
		spec.Args = append(spec.Args, "--admin-key-file", keyFile)
		links.through(t, i, raftPort, spec)
	})
	st := &statusTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	var cls []*client.Client
	for _, n := range r.nodes {
		cl, err := client.New(n.URL(), client.WithAdminKey(key), client.WithHTTPClient(&http.Client{Transport: st}))
		if err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), run+3*time.Minute)
	defer cancel()
	waitFor(t, 60*time.Second, "namespace "+linzNamespace+" to be created (needs a metadata leader)", func() (bool, string) {
		_, err := cls[0].CreateNamespace(ctx, linzNamespace, client.NamespaceOptions{})
		return err == nil || errcode.Is(err, errcode.Conflict), fmt.Sprint(err)
	})

	rec := linz.NewRecorder()
	clients := 6
	if s := os.Getenv("TANDEM_LINZ_CLIENTS"); s != "" {
		var err error
		if clients, err = strconv.Atoi(s); err != nil || clients < 1 {
			t.Fatalf("TANDEM_LINZ_CLIENTS=%q: want a number of clients, 1 or more", s)
		}
	}
	finish := startLinzClients(ctx, cls, clients, seed, gap, rec)
	nem := clusterNemesis{t: t, r: r, cls: cls, links: &links, rec: rec, rng: mrand.New(mrand.NewPCG(seed, 99))}
	for i := range faults {
		pace(ctx, run/time.Duration(faults+1)/2+time.Duration(nem.rng.Int64N(int64(run/time.Duration(faults+1)))))
		switch i % 4 {
		case 0:
			nem.killAndRestart(ctx, true)
		case 1:
			nem.killAndRestart(ctx, false)
		case 2:
			nem.pauseLeader(ctx)
		case 3:
			nem.isolateLeader(ctx)
		}
	}
	pace(ctx, run/time.Duration(faults+1)/2)
	total := finish()
	history := rec.History()

	perNode := answersByNode(history)
	t.Logf("%d operations: %d answered, %d indeterminate (no answer: writes kept with a return at infinity, reads dropped), %d refused (node down, dropped)",
		total.answered+total.unknown+total.refused, total.answered, total.unknown, total.refused)
	t.Logf("history: %d operations; answered/indeterminate by node: 1: %v, 2: %v, 3: %v", len(history), perNode[1], perNode[2], perNode[3])
	t.Logf("faults: %s", strings.Join(nem.log, "; "))
	if !nem.leaderKilled {
		t.Fatal("the metadata leader was never killed")
	}
	if faults >= 3 && !nem.leaderPaused {
		t.Fatal("the metadata leader was never paused")
	}
	if faults >= 4 && !nem.leaderIsolated {
		t.Fatal("the metadata leader was never cut off from the other nodes")
	}
	if !links.used() {
		t.Fatal("no raft traffic went through the fault proxies: the partition fault cut nothing")
	}
	for k := 1; k <= 3; k++ {
		if perNode[k][0] < 100 {
			t.Fatalf("node %d answered only %d operations; the run proves little", k, perNode[k][0])
		}
	}
	checkLinearizable(t, linz.Spec{}, history)
	mutationsFail(t, history)
}

// answersByNode counts a history's operations by the node they were sent to: answered, and
// indeterminate (a write without an answer).
func answersByNode(history []porcupine.Operation) map[int][2]int {
	perNode := map[int][2]int{}
	for _, op := range history {
		c := perNode[op.Input.(linz.Input).Node]
		if op.Return == math.MaxInt64 {
			c[1]++
		} else {
			c[0]++
		}
		perNode[op.Input.(linz.Input).Node] = c
	}
	return perNode
}

// writeAdminKey writes a random admin key to path (mode 0600) and returns it.
func writeAdminKey(t *testing.T, path string) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	key := base64.RawURLEncoding.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// clusterNemesis kills nodes of a region and restarts them, logging each kill on the
// history's clock.
type clusterNemesis struct {
	t              *testing.T
	r              *zoneRegion
	cls            []*client.Client // cls[i] talks to r.nodes[i]
	rec            *linz.Recorder
	rng            *mrand.Rand
	links          *raftLinks
	log            []string
	leaderKilled   bool
	leaderPaused   bool
	leaderIsolated bool
}

// raftLinks are the raft connections of a 3-node region through fault proxies:
// proxy[i][j] carries what node i+1 dials to reach node j+1.
type raftLinks struct {
	proxy [3][3]*faultproxy.Proxy
}

// through points node i's --cluster list (i from 1) at proxies to the other members.
func (l *raftLinks) through(t *testing.T, i, raftPort int, spec *nodeproc.Spec) {
	t.Helper()
	var items []string
	for j := 1; j <= 3; j++ {
		addr := fmt.Sprintf("127.0.0.%d:%d", j, raftPort)
		if j != i {
			p, err := faultproxy.New(fmt.Sprintf("127.0.0.%d:0", i), addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			l.proxy[i-1][j-1], addr = p, p.Addr()
		}
		items = append(items, fmt.Sprintf("%d=%c@%s", j, 'a'+j-1, addr))
	}
	for k, a := range spec.Args {
		if a == "--cluster" {
			spec.Args[k+1] = strings.Join(items, ",")
		}
	}
}

// used reports whether every proxy carried raft traffic.
func (l *raftLinks) used() bool {
	for i := range 3 {
		for j := range 3 {
			if p := l.proxy[i][j]; p != nil && p.Stats().BytesUp == 0 {
				return false
			}
		}
	}
	return true
}

// isolate cuts (or heals) every raft link to and from node i (0-based).
func (l *raftLinks) isolate(i int, cut bool) {
	for j := range 3 {
		for _, p := range []*faultproxy.Proxy{l.proxy[i][j], l.proxy[j][i]} {
			switch {
			case p == nil:
			case cut:
				p.Cut()
			default:
				p.Heal()
			}
		}
	}
}

// metadataLeader is the metadata leader's index (0-based) as a node sees it; -1 when no node
// names one.
func (n *clusterNemesis) metadataLeader(ctx context.Context) int {
	for _, i := range n.rng.Perm(len(n.cls)) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err := n.cls[i].ClusterStatus(ctx)
		cancel()
		if err == nil && s.MetadataLeader >= 1 && int(s.MetadataLeader) <= len(n.cls) {
			return int(s.MetadataLeader) - 1
		}
	}
	return -1
}

// killAndRestart kills the metadata leader (leader) or a random node with SIGKILL, leaves it
// down up to 2 s, restarts it and waits until it follows a metadata leader again.
func (n *clusterNemesis) killAndRestart(ctx context.Context, leader bool) {
	n.t.Helper()
	lead := -1
	waitFor(n.t, 30*time.Second, "a node to name the metadata leader", func() (bool, string) {
		lead = n.metadataLeader(ctx)
		return lead >= 0, "no node names a metadata leader"
	})
	victim := n.rng.IntN(len(n.cls))
	if leader {
		victim = lead
	}
	at := n.rec.Now()
	n.r.nodes[victim].kill9()
	what := "a follower"
	if victim == lead {
		what, n.leaderKilled = "the metadata leader", true
	}
	pace(ctx, time.Duration(n.rng.Int64N(int64(2*time.Second))))
	restarted := n.rec.Now()
	n.r.nodes[victim].restart()
	n.waitFollows(ctx, victim, "its restart")
	n.log = append(n.log, fmt.Sprintf("node %d (%s) killed at %v, restarted at %v, ready at %v; metadata leader then node %d",
		victim+1, what, ms(at), ms(restarted), ms(n.rec.Now()), n.metadataLeader(ctx)+1))
}

// pauseLeader stops the metadata leader with SIGSTOP for 1.5 to 3.5 s (the others elect a
// new leader meanwhile), resumes it with SIGCONT and waits until it follows a leader again.
func (n *clusterNemesis) pauseLeader(ctx context.Context) {
	n.t.Helper()
	lead := -1
	waitFor(n.t, 30*time.Second, "a node to name the metadata leader", func() (bool, string) {
		lead = n.metadataLeader(ctx)
		return lead >= 0, "no node names a metadata leader"
	})
	p := n.r.nodes[lead].proc
	at := n.rec.Now()
	if err := p.Pause(); err != nil {
		n.t.Fatal(err)
	}
	pace(ctx, 1500*time.Millisecond+time.Duration(n.rng.Int64N(int64(2*time.Second))))
	resumed := n.rec.Now()
	if err := p.Resume(); err != nil {
		n.t.Fatal(err)
	}
	n.leaderPaused = true
	n.waitFollows(ctx, lead, "it was resumed")
	n.log = append(n.log, fmt.Sprintf("node %d (the metadata leader) paused at %v, resumed at %v; metadata leader then node %d",
		lead+1, ms(at), ms(resumed), n.metadataLeader(ctx)+1))
}

// isolateLeader cuts the metadata leader's raft links to and from the other nodes for 2 to
// 4 s (clients still reach it; the others elect a new leader meanwhile), heals them and waits
// until it follows a leader again.
func (n *clusterNemesis) isolateLeader(ctx context.Context) {
	n.t.Helper()
	lead := -1
	waitFor(n.t, 30*time.Second, "a node to name the metadata leader", func() (bool, string) {
		lead = n.metadataLeader(ctx)
		return lead >= 0, "no node names a metadata leader"
	})
	at := n.rec.Now()
	n.links.isolate(lead, true)
	pace(ctx, 2*time.Second+time.Duration(n.rng.Int64N(int64(2*time.Second))))
	healed := n.rec.Now()
	n.links.isolate(lead, false)
	n.leaderIsolated = true
	n.waitFollows(ctx, lead, "its raft links healed")
	n.log = append(n.log, fmt.Sprintf("node %d (the metadata leader) cut off from the others at %v, healed at %v; metadata leader then node %d",
		lead+1, ms(at), ms(healed), n.metadataLeader(ctx)+1))
}

// waitFollows waits until node i names a metadata leader.
func (n *clusterNemesis) waitFollows(ctx context.Context, i int, after string) {
	n.t.Helper()
	waitFor(n.t, 60*time.Second, fmt.Sprintf("node %d to follow a metadata leader after %s", i+1, after), func() (bool, string) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		s, err := n.cls[i].ClusterStatus(ctx)
		return err == nil && s.MetadataLeader != 0, fmt.Sprint(s.MetadataLeader, err)
	})
}

// ms is a time on the history's clock, for the log.
func ms(at int64) time.Duration { return time.Duration(at).Round(time.Millisecond) }
