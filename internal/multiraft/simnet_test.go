package multiraft

import (
	"math/rand/v2"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// simNet is a simulated network on a virtual clock: it drops, delays (and so
// reorders), duplicates and partitions messages, all from one seeded rand.
type simNet struct {
	rng      *rand.Rand
	now      int64
	seq      uint64
	inflight []simMsg
	blocked  map[[2]uint64]bool // from→to cut
	dropP    float64
	dupP     float64
	maxDelay int64 // in steps
	sent     int
	dropped  int
}

type simMsg struct {
	at   int64
	seq  uint64
	from uint64
	env  Envelope
}

func newSimNet(rng *rand.Rand) *simNet {
	return &simNet{rng: rng, blocked: make(map[[2]uint64]bool), maxDelay: 3}
}

// simTransport is one node's view of the network.
type simTransport struct {
	net  *simNet
	from uint64
}

func (t simTransport) Send(envs []Envelope) {
	n := t.net
	for _, e := range envs {
		n.sent++
		to := e.Msg.GetTo()
		if n.blocked[[2]uint64{t.from, to}] || n.rng.Float64() < n.dropP {
			n.dropped++
			continue
		}
		copies := 1
		if n.rng.Float64() < n.dupP {
			copies = 2
		}
		for range copies {
			n.seq++
			// Clone as a real transport would marshal: the receiver must not
			// share the sender's message.
			m := proto.Clone(e.Msg).(*raftpb.Message)
			n.inflight = append(n.inflight, simMsg{
				at: n.now + 1 + n.rng.Int64N(n.maxDelay), seq: n.seq, from: t.from,
				env: Envelope{Group: e.Group, Msg: m},
			})
		}
	}
}

// due removes and returns the messages to deliver at the current time, in
// (time, send order) order.
func (n *simNet) due() []simMsg {
	var out, keep []simMsg
	for _, m := range n.inflight {
		if m.at <= n.now {
			out = append(out, m)
		} else {
			keep = append(keep, m)
		}
	}
	n.inflight = keep
	slices.SortFunc(out, func(a, b simMsg) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(int64(a.seq) - int64(b.seq))
	})
	return out
}

func (n *simNet) heal() {
	clear(n.blocked)
	n.dropP, n.dupP = 0, 0
}

// isolate cuts node off from every other node, both ways.
func (n *simNet) isolate(node uint64, nodes int) {
	for i := uint64(1); i <= uint64(nodes); i++ {
		if i != node {
			n.blocked[[2]uint64{node, i}] = true
			n.blocked[[2]uint64{i, node}] = true
		}
	}
}

// split cuts the nodes into two sides.
func (n *simNet) split(side map[uint64]bool, nodes int) {
	for a := uint64(1); a <= uint64(nodes); a++ {
		for b := uint64(1); b <= uint64(nodes); b++ {
			if side[a] != side[b] {
				n.blocked[[2]uint64{a, b}] = true
			}
		}
	}
}
