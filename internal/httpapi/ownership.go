package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Partition ownership of a consumer group, for event processors' load balancing (the Azure
// SDKs' checkpoint stores): which processor instance reads which partition. Claims use
// optimistic concurrency by ETag, as Azure Blob storage does for the SDKs' blob checkpoint
// store: PUT …/ownership/{partition} with If-Match: <etag> takes over the ownership that had
// that ETag, and with If-None-Match: * claims a partition nobody ever owned; a claim that no
// longer matches is 412 Precondition Failed. POST …/ownership claims many partitions in one
// metadata change and answers with the claims that won (lost ones are left out, as the SDKs
// expect). Like checkpoints, ownership belongs to the receiving side: Listen right.

// ownershipJSON is one partition's owner.
type ownershipJSON struct {
	PartitionID      int32     `json:"partitionId"`
	OwnerID          string    `json:"ownerId"`
	ETag             string    `json:"etag"`
	LastModifiedTime time.Time `json:"lastModifiedTime"`
}

func ownershipOut(o broker.Ownership) ownershipJSON {
	return ownershipJSON{PartitionID: o.Partition, OwnerID: o.OwnerID, ETag: o.ETag, LastModifiedTime: o.LastModified}
}

// ownershipRoutes registers the ownership routes next to the checkpoint ones.
func (s *Server) ownershipRoutes() {
	s.handle("GET "+groupPath+"/ownership", needListen, s.listOwnership)
	s.handle("POST "+groupPath+"/ownership", needListen, s.claimOwnership)
	s.handle("GET "+groupPath+"/ownership/{partition}", needListen, s.getOwnership)
	s.handle("PUT "+groupPath+"/ownership/{partition}", needListen, s.putOwnership)
}

func (s *Server) listOwnership(w http.ResponseWriter, r *http.Request, c *call) error {
	own, err := s.b.Ownerships(c.ns, c.hub, r.PathValue("group"))
	if err != nil {
		return err
	}
	out := []ownershipJSON{}
	for _, o := range own {
		out = append(out, ownershipOut(o))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PartitionID < out[j].PartitionID })
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (s *Server) getOwnership(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := s.partitionID(r, c)
	if err != nil {
		return err
	}
	group := r.PathValue("group")
	own, err := s.b.Ownerships(c.ns, c.hub, group)
	if err != nil {
		return err
	}
	o, ok := own[id]
	if !ok {
		return errcode.New(errcode.NotFound,
			"nobody has claimed partition %d of %s/%s for consumer group %s yet", id, c.ns, c.hub, group)
	}
	w.Header().Set("ETag", quoteETag(o.ETag))
	writeJSON(w, http.StatusOK, ownershipOut(o))
	return nil
}

// putOwnership claims one partition, conditional on If-Match or If-None-Match: *.
func (s *Server) putOwnership(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := s.partitionID(r, c)
	if err != nil {
		return err
	}
	ifMatch, err := claimCondition(r)
	if err != nil {
		return err
	}
	var in struct {
		OwnerID string `json:"ownerId"`
	}
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	group := r.PathValue("group")
	won, err := s.b.ClaimOwnership(r.Context(), c.ns, c.hub, group,
		[]broker.OwnershipClaim{{Partition: id, OwnerID: in.OwnerID, IfMatch: ifMatch}})
	if err != nil {
		return err
	}
	if len(won) == 0 {
		if ifMatch == "" {
			return errcode.New(errcode.PreconditionFailed,
				"partition %d of %s/%s is already claimed for consumer group %s (If-None-Match: *); read its ownership and claim it with If-Match: <its etag>",
				id, c.ns, c.hub, group)
		}
		return errcode.New(errcode.PreconditionFailed,
			"the ownership of partition %d of %s/%s for consumer group %s no longer has ETag %s (another claim changed it, or nobody owns it); read it again",
			id, c.ns, c.hub, group, quoteETag(ifMatch))
	}
	w.Header().Set("ETag", quoteETag(won[0].ETag))
	writeJSON(w, http.StatusOK, ownershipOut(won[0]))
	return nil
}

// claimCondition reads a claim's condition: the If-Match ETag, or "" for If-None-Match: *.
func claimCondition(r *http.Request) (string, error) {
	im, inm := strings.TrimSpace(r.Header.Get("If-Match")), strings.TrimSpace(r.Header.Get("If-None-Match"))
	switch {
	case im != "" && inm != "":
		return "", errcode.New(errcode.InvalidArgument, "an ownership claim takes If-Match or If-None-Match, not both")
	case im != "":
		if im == "*" || strings.Contains(im, ",") {
			return "", errcode.New(errcode.InvalidArgument,
				"If-Match must name the one ETag of the ownership being taken over, not %q", im)
		}
		return unquoteETag(im), nil
	case inm == "*":
		return "", nil
	}
	return "", errcode.New(errcode.InvalidArgument,
		"an ownership claim needs a condition: If-Match: <etag> to take over the ownership you read, or If-None-Match: * to claim a partition nobody has claimed")
}

// claimOwnership claims many partitions in one change and answers with those that won.
func (s *Server) claimOwnership(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Claims []struct {
			PartitionID *int32 `json:"partitionId"`
			OwnerID     string `json:"ownerId"`
			ETag        string `json:"etag"`
		} `json:"claims"`
	}
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	claims := make([]broker.OwnershipClaim, 0, len(in.Claims))
	for i, cl := range in.Claims {
		if cl.PartitionID == nil {
			return errcode.New(errcode.InvalidArgument, `claim %d has no "partitionId"`, i)
		}
		claims = append(claims, broker.OwnershipClaim{Partition: *cl.PartitionID, OwnerID: cl.OwnerID, IfMatch: unquoteETag(cl.ETag)})
	}
	won, err := s.b.ClaimOwnership(r.Context(), c.ns, c.hub, r.PathValue("group"), claims)
	if err != nil {
		return err
	}
	out := make([]ownershipJSON, len(won))
	for i, o := range won {
		out[i] = ownershipOut(o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

// quoteETag is an ETag as HTTP headers carry it.
func quoteETag(e string) string { return `"` + e + `"` }

// unquoteETag accepts an ETag with or without its quotes (and a weak W/ prefix).
func unquoteETag(e string) string {
	e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		e = e[1 : len(e)-1]
	}
	return e
}
