package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"

	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testGroup is the raft group the node tests run: partition 0 of incarnation 7.
var testGroup = func() uint64 { g, _ := GroupID(7, 0); return g }()

// listSM is a deterministic state machine: the list of applied entries
// (index and data; "" for no-ops and conf changes). It is volatile: a
// restarted node starts empty and is fed again from the WAL.
type listSM struct {
	mu   sync.Mutex
	recs []rec
}

type rec struct {
	I uint64 `json:"i"`
	D string `json:"d"`
}

func (s *listSM) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) == 0 {
		return 0
	}
	return s.recs[len(s.recs)-1].I
}

func (s *listSM) Apply(ents []multiraft.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		last := uint64(0)
		if n := len(s.recs); n > 0 {
			last = s.recs[n-1].I
		}
		if e.Index != last+1 {
			return fmt.Errorf("listSM: applied %d after %d", e.Index, last)
		}
		d := string(e.Data)
		if e.Kind == multiraft.EntryConfChange {
			d = "<conf>"
		}
		s.recs = append(s.recs, rec{e.Index, d})
	}
	return nil
}

func (s *listSM) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(s.recs)
}

func (s *listSM) Restore(snap *raftpb.Snapshot) error {
	var recs []rec
	if err := json.Unmarshal(snap.GetData(), &recs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = recs
	return nil
}

// state returns the applied index, a digest of the whole list and the set of data.
func (s *listSM) state() (uint64, uint64, map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := fnv.New64a()
	data := make(map[string]uint64, len(s.recs))
	for _, r := range s.recs {
		fmt.Fprintf(h, "%d:%s;", r.I, r.D)
		if r.D != "" && r.D != "<conf>" {
			data[r.D] = r.I
		}
	}
	var last uint64
	if n := len(s.recs); n > 0 {
		last = s.recs[n-1].I
	}
	return last, h.Sum64(), data
}

// testCluster runs three nodes on 127.0.0.1/2/3.
type testCluster struct {
	t      *testing.T
	cfgs   []Config
	dirs   []string
	fss    []seglog.FS // nil: OS
	mu     sync.Mutex  // guards nodes (load goroutines read it)
	nodes  []*Node     // nil: down
	halt   atomic.Bool // makes propose give up at once
	sms    []*listSM
	regs   []*prometheus.Registry
	dialer func(from uint64) func(ctx context.Context, addr string) (net.Conn, error)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newTestCluster configures three nodes (not started) with one secret each.
func newTestCluster(t *testing.T, secrets ...[]byte) *testCluster {
	t.Helper()
	port := freePort(t)
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	tc := &testCluster{t: t, fss: make([]seglog.FS, 3), nodes: make([]*Node, 3), sms: make([]*listSM, 3), regs: make([]*prometheus.Registry, 3)}
	for i := range 3 {
		s := secret
		if i < len(secrets) && secrets[i] != nil {
			s = secrets[i]
		}
		c, _, err := ParseConfig(uint64(i+1), "", spec, s)
		if err != nil {
			t.Fatal(err)
		}
		tc.cfgs = append(tc.cfgs, c)
		tc.dirs = append(tc.dirs, t.TempDir())
	}
	t.Cleanup(tc.closeAll)
	return tc
}

func (tc *testCluster) start(i int) {
	tc.t.Helper()
	tc.regs[i] = prometheus.NewRegistry()
	opts := Options{Config: tc.cfgs[i], DataDir: tc.dirs[i], FS: tc.fss[i], Registerer: tc.regs[i],
		TickInterval: 20 * time.Millisecond}
	if tc.dialer != nil {
		opts.Dialer = tc.dialer(uint64(i + 1))
	}
	n, err := Open(context.Background(), opts)
	if err != nil {
		tc.t.Fatalf("open node %d: %v", i+1, err)
	}
	sm := &listSM{}
	if err := n.AddGroup(testGroup, []uint64{1, 2, 3}, sm, false); err != nil {
		tc.t.Fatalf("node %d: %v", i+1, err)
	}
	tc.mu.Lock()
	tc.nodes[i], tc.sms[i] = n, sm
	tc.mu.Unlock()
}

// live returns the nodes (nil: down) as they are now.
func (tc *testCluster) live() []*Node {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return append([]*Node(nil), tc.nodes...)
}

func (tc *testCluster) stop(i int) {
	tc.t.Helper()
	tc.mu.Lock()
	n := tc.nodes[i]
	tc.nodes[i] = nil
	tc.mu.Unlock()
	if err := n.Close(); err != nil {
		tc.t.Errorf("close node %d: %v", i+1, err)
	}
}

func (tc *testCluster) closeAll() {
	for i, n := range tc.live() {
		if n != nil {
			tc.stop(i)
		}
	}
}

// eventually polls cond until it returns nil or the generous deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leader waits for a leader that every live node agrees on and returns its index.
func (tc *testCluster) leader() int {
	tc.t.Helper()
	var lead int
	eventually(tc.t, "a leader", 30*time.Second, func() error {
		var leads []uint64
		nodes := tc.live()
		for _, n := range nodes {
			if n == nil {
				continue
			}
			st, err := n.Status(testGroup)
			if err != nil {
				return err
			}
			leads = append(leads, st.Leader)
		}
		for _, l := range leads {
			if l == 0 || l != leads[0] || nodes[l-1] == nil {
				return fmt.Errorf("leaders seen %v", leads)
			}
		}
		lead = int(leads[0] - 1)
		if !nodes[lead].Confirmed(testGroup) {
			return fmt.Errorf("node %d leads but has not applied an entry of its term", lead+1)
		}
		return nil
	})
	return lead
}

// propose replicates data through whichever node leads, retrying until it
// is acknowledged. It returns false when the outcome stays unknown.
func (tc *testCluster) propose(data string) bool {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !tc.halt.Load() {
		for _, n := range tc.live() {
			if n == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := n.Propose(ctx, testGroup, []byte(data))
			cancel()
			var nl *multiraft.NotLeaderError
			switch {
			case err == nil:
				return true
			case errors.As(err, &nl), errors.Is(err, multiraft.ErrProposalDropped),
				errors.Is(err, multiraft.ErrLeadershipLost), errors.Is(err, multiraft.ErrClosed),
				errors.Is(err, context.DeadlineExceeded):
			default:
				tc.t.Fatalf("propose %s: %v", data, err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// converged waits until every live node applied at least min entries and
// all hold the same list, and checks that every acknowledged datum is in it.
func (tc *testCluster) converged(acked []string) {
	tc.t.Helper()
	var target uint64
	nodes := tc.live()
	for _, n := range nodes {
		if n != nil {
			if st, err := n.Status(testGroup); err == nil && st.Commit > target {
				target = st.Commit
			}
		}
	}
	eventually(tc.t, "identical state on every node", 60*time.Second, func() error {
		var first uint64
		var desc []string
		for i, sm := range tc.sms {
			if nodes[i] == nil {
				continue
			}
			last, digest, _ := sm.state()
			desc = append(desc, fmt.Sprintf("node %d: applied %d digest %x", i+1, last, digest))
			if last < target {
				return fmt.Errorf("below commit %d: %s", target, strings.Join(desc, "; "))
			}
			if first == 0 {
				first = digest
			} else if digest != first {
				return fmt.Errorf("digests differ: %s", strings.Join(desc, "; "))
			}
		}
		return nil
	})
	for i, sm := range tc.sms {
		if nodes[i] == nil {
			continue
		}
		_, _, data := sm.state()
		for _, a := range acked {
			if _, ok := data[a]; !ok {
				tc.t.Fatalf("node %d lacks acknowledged proposal %q", i+1, a)
			}
		}
	}
}
