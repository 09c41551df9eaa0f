package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// GET /cluster: the region's nodes, metadata raft state and partition health (broker
// ClusterStatus). In a cluster the answering node asks every other node for its own view
// (GET /cluster?scope=node, with the caller's credentials, which the nodes of a region share)
// and answers the merge (partitions.scope "region", or "partial" when a node did not answer);
// ?scope=node answers this node's view alone.

// clusterStatusTimeout bounds GET /cluster, peers included.
const clusterStatusTimeout = 5 * time.Second

// defaultPeerClient asks the other nodes of the region for their views.
var defaultPeerClient = &http.Client{Timeout: 3 * time.Second}

func (s *Server) clusterRoutes() {
	s.handle("GET /cluster", needAdminOrDev, s.getCluster)
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), clusterStatusTimeout)
	defer cancel()
	local := s.b.ClusterStatus(ctx)
	if !local.Clustered || r.URL.Query().Get("scope") == broker.ScopeNode {
		writeJSON(w, http.StatusOK, local)
		return nil
	}
	views, errs := s.peerViews(ctx, r, local)
	writeJSON(w, http.StatusOK, broker.MergeClusterStatus(local, views, errs))
	return nil
}

// peerViews asks every other node for its own view, at once.
func (s *Server) peerViews(ctx context.Context, r *http.Request, local broker.ClusterStatus) (map[uint64]broker.ClusterStatus, map[uint64]string) {
	views, errs := map[uint64]broker.ClusterStatus{}, map[uint64]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range local.Nodes {
		if n.ID == local.NodeID {
			continue
		}
		if n.HTTP == "" {
			errs[n.ID] = "it has recorded no HTTP endpoint in the metadata (not started yet, or started without an API listener)"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.peerView(ctx, n.HTTP, r.Header.Get("Authorization"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[n.ID] = err.Error()
				return
			}
			if v.NodeID != n.ID {
				errs[n.ID] = fmt.Sprintf("%s answered as node %d", n.HTTP, v.NodeID)
				return
			}
			views[n.ID] = v
		}()
	}
	wg.Wait()
	return views, errs
}

func (s *Server) peerView(ctx context.Context, base, auth string) (broker.ClusterStatus, error) {
	var v broker.ClusterStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/cluster?scope="+broker.ScopeNode, nil)
	if err != nil {
		return v, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	hc := s.peerClient
	if hc == nil {
		hc = s.b.PeerHTTP() // the node's client for its peers (with TLS it trusts their CA)
	}
	if hc == nil {
		hc = defaultPeerClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return v, err
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s/cluster answered %s: %.200s", base, resp.Status, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("%s/cluster answered what is not a cluster status: %w", base, err)
	}
	return v, nil
}

// partitionJSON is one partition of an event hub in a cluster: its replicas (node ids, the
// preferred leader first), its leader and leader epoch, and the in-sync replicas when the
// answering node leads it.
type partitionJSON struct {
	PartitionID    string  `json:"partitionId"`
	Replicas       []int32 `json:"replicas"`
	Leader         int32   `json:"leader"` // -1: none known
	LeaderEpoch    int32   `json:"leaderEpoch"`
	InSyncReplicas []int32 `json:"inSyncReplicas,omitempty"`
}

// partitionsOut renders broker.HubReplicas; nil (left out of the JSON) on a single node.
func partitionsOut(ps []broker.PartitionReplicas) []partitionJSON {
	if ps == nil {
		return nil
	}
	out := make([]partitionJSON, len(ps))
	for i, p := range ps {
		out[i] = partitionJSON{PartitionID: strconv.Itoa(int(p.ID)), Replicas: p.Replicas, Leader: p.Leader,
			LeaderEpoch: p.LeaderEpoch, InSyncReplicas: p.InSync}
	}
	return out
}
