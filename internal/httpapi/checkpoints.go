package httpapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// checkpointJSON is a consumer group's stored position in one partition: the offset of the
// next event to read.
type checkpointJSON struct {
	PartitionID int32      `json:"partitionId"`
	Offset      int64      `json:"offset"`
	Metadata    string     `json:"metadata,omitempty"`
	CommitTime  *time.Time `json:"commitTime,omitempty"`
}

func checkpointOut(id int32, cp broker.Checkpoint) checkpointJSON {
	t := cp.CommitTime
	return checkpointJSON{PartitionID: id, Offset: cp.Offset, Metadata: cp.Metadata, CommitTime: &t}
}

func (s *Server) checkpoints(c *call, group string) (map[int32]broker.Checkpoint, error) {
	if _, err := s.b.ConsumerGroup(c.ns, c.hub, group); err != nil {
		return nil, err
	}
	return s.b.Checkpoints(c.ns, c.hub, group)
}

func (s *Server) listCheckpoints(w http.ResponseWriter, r *http.Request, c *call) error {
	cps, err := s.checkpoints(c, r.PathValue("group"))
	if err != nil {
		return err
	}
	out := []checkpointJSON{}
	for id, cp := range cps {
		out = append(out, checkpointOut(id, cp))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PartitionID < out[j].PartitionID })
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := s.partitionID(r, c)
	if err != nil {
		return err
	}
	group := r.PathValue("group")
	cps, err := s.checkpoints(c, group)
	if err != nil {
		return err
	}
	cp, ok := cps[id]
	if !ok {
		return errcode.New(errcode.NotFound,
			"consumer group %s has no checkpoint for partition %d of %s/%s yet", group, id, c.ns, c.hub)
	}
	writeJSON(w, http.StatusOK, checkpointOut(id, cp))
	return nil
}

func (s *Server) putCheckpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := s.partitionID(r, c)
	if err != nil {
		return err
	}
	var in struct {
		Offset   *int64 `json:"offset"`
		Metadata string `json:"metadata"`
	}
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	if in.Offset == nil || *in.Offset < 0 {
		return errcode.New(errcode.InvalidArgument,
			`checkpoint needs "offset": the non-negative offset of the next event to read`)
	}
	// One write whose answer is what it wrote; a missing group is NotFound (not created).
	cp, err := s.b.SetCheckpoint(r.Context(), c.ns, c.hub, r.PathValue("group"),
		broker.OffsetCommit{Partition: id, Offset: *in.Offset, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, checkpointOut(id, cp))
	return nil
}
