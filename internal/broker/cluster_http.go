package broker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Where the HTTP API finds a partition's leader. A node serves a partition's data only as its
// confirmed leader; the HTTP API forwards other requests to the leader's HTTP endpoint, which
// every node records in the metadata (SetEndpoints).

// PartitionRoute says where partition requests are served.
type PartitionRoute struct {
	Local  bool   // this node serves it: its confirmed leader, or a single node
	Leader uint64 // otherwise the node that leads it (as raft here knows), 0 if none known
	HTTP   string // the leader's HTTP API base URL (http(s)://host:port), "" if not recorded
}

// InCluster reports whether the broker runs in cluster mode.
func (b *Broker) InCluster() bool { return b.cl != nil }

// NodeID is this node's member id in a cluster (0 on a single node).
func (b *Broker) NodeID() uint64 {
	if b.cl == nil {
		return 0
	}
	return b.cl.self
}

// PartitionLeaderEndpoint returns where partition id of h is served. A node that holds a
// replica names the leader its raft group knows; one that holds none names the partition's
// preferred leader (the first replica of its placement), which may have moved. With no
// leader known it fails with Unavailable; a leader with no recorded HTTP endpoint is returned
// with HTTP "".
func (b *Broker) PartitionLeaderEndpoint(h HubInfo, id int32) (PartitionRoute, error) {
	if b.cl == nil {
		return PartitionRoute{Local: true}, nil
	}
	r, g, err := b.localReplica(h, id)
	if err != nil {
		return PartitionRoute{}, err
	}
	var leader uint64
	if r != nil {
		if b.cl.node.Confirmed(g) {
			return PartitionRoute{Local: true}, nil
		}
		if st, err := b.cl.node.Status(g); err == nil {
			leader = st.Leader
		}
	} else {
		b.meta.View(func(s *meta.State) {
			if _, reps, err := s.HubPlacement(h.Namespace, h.Name); err == nil && int(id) < len(reps) && len(reps[id]) > 0 {
				leader = reps[id][0]
			}
		})
	}
	if leader == 0 {
		return PartitionRoute{}, errcode.New(errcode.Unavailable,
			"partition %d of %s/%s has no leader right now (an election may be in progress); retry shortly", id, h.Namespace, h.Name)
	}
	if leader == b.cl.self { // elected, not confirmed yet: the broker answers NotLeader
		return PartitionRoute{Local: true}, nil
	}
	out := PartitionRoute{Leader: leader}
	if e, ok := b.MemberEndpoints(leader); ok {
		out.HTTP = e.HTTP
	}
	return out, nil
}

// LedPartitions lists the partitions of h this node serves: every partition on a single
// node, the ones it is the confirmed leader of in a cluster.
func (b *Broker) LedPartitions(h HubInfo) []int32 {
	var out []int32
	for p := range h.Partitions {
		if b.cl == nil {
			out = append(out, p)
			continue
		}
		if r, g, err := b.localReplica(h, p); err == nil && r != nil && b.cl.node.Confirmed(g) {
			out = append(out, p)
		}
	}
	return out
}

// forwardProofWindow is how far a forward proof's time may be from this node's clock.
const forwardProofWindow = 2 * time.Minute

// ForwardProof vouches, to the other nodes of the region, that this node forwards a request
// of the client at clientAddr (method and request URI as sent): an HMAC-SHA256 under a key
// derived from the cluster secret, over this node's id, the time and those fields. The
// leader applies the namespace's IP rules to clientAddr instead of to the forwarding node.
// It is "" on a single node.
func (b *Broker) ForwardProof(clientAddr, method, uri string, now time.Time) string {
	if b.cl == nil {
		return ""
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return strconv.FormatUint(b.cl.self, 10) + ":" + ts + ":" + b.forwardMAC(b.cl.self, ts, clientAddr, method, uri)
}

// CheckForwardProof reports whether proof is a member's ForwardProof for these fields,
// made within forwardProofWindow of now.
func (b *Broker) CheckForwardProof(proof, clientAddr, method, uri string, now time.Time) bool {
	if b.cl == nil || proof == "" {
		return false
	}
	parts := strings.SplitN(proof, ":", 3)
	if len(parts) != 3 {
		return false
	}
	node, err1 := strconv.ParseUint(parts[0], 10, 64)
	ts, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || node == b.cl.self {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > forwardProofWindow || d < -forwardProofWindow {
		return false
	}
	want := b.forwardMAC(node, parts[1], clientAddr, method, uri)
	return hmac.Equal([]byte(want), []byte(parts[2]))
}

func (b *Broker) forwardMAC(node uint64, ts, clientAddr, method, uri string) string {
	kdf := hmac.New(sha256.New, b.cl.node.Config().Secret)
	kdf.Write([]byte("tandem http forward v1"))
	m := hmac.New(sha256.New, kdf.Sum(nil))
	for _, f := range []string{strconv.FormatUint(node, 10), ts, clientAddr, method, uri} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SyncMetadata returns once this node's metadata holds every change acknowledged anywhere in
// the region before the call (a raft ReadIndex round on the metadata group), and its hub
// index too, so that a read served here after it is linearizable; at once on a single node.
// It is bounded by 5 s.
func (b *Broker) SyncMetadata(ctx context.Context) error {
	if b.cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.meta.Barrier(ctx); err != nil {
		var ec *errcode.Error
		if errors.As(err, &ec) {
			return err
		}
		return errcode.New(errcode.Unavailable, "the region's metadata group did not answer (no leader or no quorum reachable from this node): %w; retry", err)
	}
	if b.hubs.Load() == nil || b.hubsAt.Load() < b.meta.Index() {
		b.refreshHubs() // the reconciler would, a moment later
	}
	return nil
}
