package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// A send whose events go to partitions led by several nodes of a cluster (mixed partition
// keys; the dual-write producer's replays) is split: each partition's events are appended
// here when this node leads the partition, else sent to the leader's partition send route,
// with the client's credentials and the forwarding headers, one hop. The answer lists every
// event's placement in request order. As on a single node, partitions are written one after
// the other: if one fails, the partitions before it stay written and the error is returned.

// maxSplitAnswer bounds the answer read from another node for one partition's share.
const maxSplitAnswer = 8 << 20

// sendSplit serves r, whose decoded events are events and whose body is body.
func (s *Server) sendSplit(w http.ResponseWriter, r *http.Request, c *call, h broker.HubInfo, events []broker.Event, body []byte) error {
	raws, err := rawEvents(body, len(events))
	if err != nil {
		return err
	}
	unkeyed := s.unkeyedPartition(h)
	byPart := map[int32][]int{}
	for i, ev := range events {
		p := unkeyed
		if ev.PartitionKey != "" {
			p = broker.KeyPartition([]byte(ev.PartitionKey), h.Partitions)
		}
		byPart[p] = append(byPart[p], i)
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	out := make([]placementJSON, len(events))
	for _, p := range parts {
		idx := byPart[p]
		placed, err := s.sendShare(r, c, h, p, idx, events, raws)
		if err != nil {
			return err
		}
		for k, i := range idx {
			out[i] = placed[k]
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"events": out})
	return nil
}

// unkeyedPartition is where the events without a partition key of a split send go: a
// partition this node leads, else the next one round-robin.
func (s *Server) unkeyedPartition(h broker.HubInfo) int32 {
	rr := s.fwd.rr.Add(1)
	if led := s.b.LedPartitions(h); len(led) > 0 {
		return led[int(rr)%len(led)]
	}
	return int32(rr % uint32(h.Partitions))
}

// sendShare appends the events idx to partition p, here or at its leader.
func (s *Server) sendShare(r *http.Request, c *call, h broker.HubInfo, p int32, idx []int, events []broker.Event, raws []json.RawMessage) ([]placementJSON, error) {
	route, err := s.b.PartitionLeaderEndpoint(h, p)
	if err != nil {
		return nil, err
	}
	if route.Local {
		share := make([]broker.Event, len(idx))
		for k, i := range idx {
			share[k] = events[i]
		}
		res, err := s.b.Send(r.Context(), c.ns, c.hub, share, broker.SendOptions{PartitionID: &p})
		if err != nil {
			return nil, err
		}
		out := make([]placementJSON, len(res))
		for k, x := range res {
			out[k] = placementJSON{PartitionID: x.Partition, Offset: x.Offset, SequenceNumber: x.SequenceNumber, EnqueuedTime: x.EnqueuedTime}
		}
		return out, nil
	}
	what := fmt.Sprintf("partition %d of %s/%s", p, h.Namespace, h.Name)
	if r.Header.Get(ForwardedHeader) != "" || route.HTTP == "" {
		return nil, errcode.New(errcode.NotLeader, "%s is led by node %d, which this node cannot pass events to now; retry", what, route.Leader)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for k, i := range idx {
		if k > 0 {
			b.WriteByte(',')
		}
		b.Write(raws[i])
	}
	b.WriteByte(']')
	return s.postShare(r, route, what, strings.TrimSuffix(r.URL.Path, "/messages")+fmt.Sprintf("/partitions/%d/messages", p), b.Bytes(), len(idx))
}

// postShare sends one partition's events to its leader's send route and reads the placements.
func (s *Server) postShare(r *http.Request, route broker.PartitionRoute, what, path string, body []byte, n int) ([]placementJSON, error) {
	u := strings.TrimSuffix(route.HTTP, "/") + path
	if q := r.URL.Query(); len(q) > 0 {
		q.Del("partitionId")
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s is led by node %d, whose recorded HTTP endpoint %q is not usable: %v", what, route.Leader, clip(route.HTTP), err)
	}
	for _, h := range []string{"Authorization", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set(ForwardedHeader, fmt.Sprint(s.b.NodeID()))
	req.Header.Set(forwardedForHeader, r.RemoteAddr)
	req.Header.Set(forwardedProofHeader, s.b.ForwardProof(r.RemoteAddr, http.MethodPost, req.URL.RequestURI(), time.Now()))
	resp, err := (&http.Client{Transport: s.fwd.transport}).Do(req)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s is led by node %d, whose HTTP API could not be reached from here: %v; retry shortly", what, route.Leader, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSplitAnswer))
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "reading node %d's answer for %s: %v; the events may be written, check before retrying", route.Leader, what, err)
	}
	if resp.StatusCode/100 != 2 {
		if e, ok := errcode.FromBody(data); ok {
			return nil, e
		}
		return nil, errcode.New(errcode.Unavailable, "node %d answered %s for %s", route.Leader, resp.Status, what)
	}
	var ans struct {
		Events []placementJSON `json:"events"`
	}
	if err := json.Unmarshal(data, &ans); err != nil || len(ans.Events) != n {
		return nil, errcode.New(errcode.Internal, "node %d answered a send of %d events to %s with %d placements", route.Leader, n, what, len(ans.Events))
	}
	return ans.Events, nil
}

// rawEvents splits a send body that is a JSON array into its n elements, verbatim, so each
// partition's share is passed on exactly as the client wrote it.
func rawEvents(body []byte, n int) ([]json.RawMessage, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil || len(raws) != n {
		return nil, errcode.New(errcode.NotLeader,
			"these events map to partitions led by several nodes of the region and the body is not a JSON array of them; send events with those keys in separate requests")
	}
	return raws, nil
}
