package geodr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// The region-to-region protocol, served under /geodr/v1/ by every region (handler.go):
//
//	GET  /geodr/v1/aliases/{alias}             public status of the alias here (no credential)
//	GET  /geodr/v1/namespaces/{ns}/facts        pairing facts of ns     (Manage on ns, or admin key)
//	POST /geodr/v1/namespaces/{ns}/pair         make ns a secondary     (Manage on ns, or admin key)
//	GET  /geodr/v1/namespaces/{ns}/snapshot     ns's replicated state   (link key)
//	GET  /geodr/v1/namespaces/{ns}/log          ns's changes after a log index, long-polled (link key)
//	POST /geodr/v1/aliases/{alias}/break        the primary broke the pairing   (link key)
//	POST /geodr/v1/aliases/{alias}/fence        a failover moved the alias away (link key)
//
// The link key is a random secret the primary generates at pairing and gives the secondary;
// it travels as "Authorization: TandemLink <key>".
const linkScheme = "TandemLink"

// Facts is what a region tells a would-be primary about one of its namespaces.
type Facts struct {
	Namespace  NamespaceFacts `json:"namespace"`
	AliasTaken bool           `json:"aliasTaken"` // the alias asked about names a namespace or alias here
	// AliasTakenBy explains a taken alias the user can free (a stale alias left on a former
	// primary), "" otherwise.
	AliasTakenBy string    `json:"aliasTakenBy,omitempty"`
	Self         meta.Peer `json:"self"` // how to reach the namespace's region
}

// PairRequest asks a region to make one of its namespaces the secondary of an alias.
type PairRequest struct {
	Alias   string         `json:"alias"`
	Epoch   uint64         `json:"epoch"`
	LinkKey string         `json:"linkKey"`
	Primary meta.Peer      `json:"primary"`
	Facts   NamespaceFacts `json:"facts"` // the primary's, for the secondary to check the rules too
}

// Status is the public state of an alias in one region.
type Status struct {
	Alias     string         `json:"alias"`
	Namespace string         `json:"namespace"`
	Region    string         `json:"region"`
	Role      meta.AliasRole `json:"role"`
	Epoch     uint64         `json:"epoch"`
	Active    bool           `json:"active"` // this side holds the alias
	Lost      bool           `json:"lost,omitempty"`
	Partner   *PeerRef       `json:"partner,omitempty"` // the namespace it is paired with
	Self      meta.Peer      `json:"self"`
}

// PeerRef names a namespace in a region.
type PeerRef struct {
	Region    string `json:"region"`
	Namespace string `json:"namespace"`
}

// Snapshot is a primary namespace's replicated state at a metadata log index.
type Snapshot struct {
	Index     uint64          `json:"index"`
	Namespace *meta.Namespace `json:"namespace"`
}

// Page is one answer of the replication feed: the primary namespace's replicable changes
// after the requested index, in order. Through is the last log index the primary examined
// (the next request's "after"); Head its last committed index; Pending the replicable
// changes after the request's index, including those in the page.
type Page struct {
	Entries []meta.Entry `json:"entries"`
	Through uint64       `json:"through"`
	Head    uint64       `json:"head"`
	Pending int          `json:"pending"`
}

// FenceRequest tells a former primary that a failover moved its alias at Epoch to Holder.
type FenceRequest struct {
	Epoch  uint64    `json:"epoch"`
	Holder meta.Peer `json:"holder"`
}

// Credential authenticates a call to another region.
type Credential struct {
	ConnectionString string // a connection string of a Manage rule on the partner namespace
	AdminKey         string // or the partner node's admin key
	LinkKey          string // or a pairing's link key
}

func (c Credential) header() (string, error) {
	switch {
	case c.LinkKey != "":
		return linkScheme + " " + c.LinkKey, nil
	case c.AdminKey != "":
		return "TandemKey " + strings.TrimSpace(c.AdminKey), nil
	case c.ConnectionString != "":
		cs, err := auth.ParseConnectionString(c.ConnectionString)
		if err != nil {
			return "", err
		}
		if cs.SharedAccessSignature != "" {
			return cs.SharedAccessSignature, nil
		}
		return auth.NewSASToken(cs.ResourceURI(), cs.SharedAccessKeyName, cs.SharedAccessKey, time.Now().Add(time.Hour)), nil
	}
	return "", nil
}

// peerClient calls another region's /geodr/v1 API.
type peerClient struct {
	hc *http.Client
}

func (p peerClient) call(ctx context.Context, method, endpoint, path string, cred Credential, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return errcode.New(errcode.Internal, "encoding geo-DR request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := strings.TrimRight(endpoint, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return errcode.New(errcode.InvalidArgument, "partner endpoint %q is not a URL like http://host:port: %w", endpoint, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	h, err := cred.header()
	if err != nil {
		return err
	}
	if h != "" {
		req.Header.Set("Authorization", h)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return errcode.New(errcode.Timeout, "region at %s did not answer %s %s in time: %w", endpoint, method, path, err)
		}
		return errcode.New(errcode.Unavailable, "cannot reach the region at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return errcode.New(errcode.Unavailable, "reading the answer of the region at %s: %w", endpoint, err)
	}
	if resp.StatusCode >= 300 {
		if e, ok := errcode.FromBody(data); ok {
			return e
		}
		return errcode.New(errcode.Unavailable, "the region at %s answered %s %s with HTTP %d; is it a Tandem node?",
			endpoint, method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errcode.New(errcode.Unavailable, "the region at %s answered %s %s with unexpected JSON: %w", endpoint, method, path, err)
	}
	return nil
}

func (p peerClient) facts(ctx context.Context, endpoint, ns, alias string, cred Credential) (Facts, error) {
	var f Facts
	err := p.call(ctx, "GET", endpoint, "/geodr/v1/namespaces/"+url.PathEscape(ns)+"/facts?alias="+url.QueryEscape(alias), cred, nil, &f)
	return f, err
}

func (p peerClient) pair(ctx context.Context, endpoint, ns string, cred Credential, req PairRequest) (meta.Peer, error) {
	var self meta.Peer
	err := p.call(ctx, "POST", endpoint, "/geodr/v1/namespaces/"+url.PathEscape(ns)+"/pair", cred, req, &self)
	return self, err
}

func (p peerClient) status(ctx context.Context, endpoint, alias string) (Status, error) {
	var s Status
	err := p.call(ctx, "GET", endpoint, "/geodr/v1/aliases/"+url.PathEscape(alias), Credential{}, nil, &s)
	return s, err
}

func (p peerClient) snapshot(ctx context.Context, endpoint, ns, linkKey string) (Snapshot, error) {
	var s Snapshot
	err := p.call(ctx, "GET", endpoint, "/geodr/v1/namespaces/"+url.PathEscape(ns)+"/snapshot", Credential{LinkKey: linkKey}, nil, &s)
	if err == nil && s.Namespace == nil {
		err = errcode.New(errcode.Unavailable, "the region at %s sent a snapshot without a namespace", endpoint)
	}
	return s, err
}

func (p peerClient) feed(ctx context.Context, endpoint, ns, linkKey string, after uint64, max int, wait time.Duration) (Page, error) {
	q := url.Values{}
	q.Set("after", strconv.FormatUint(after, 10))
	q.Set("max", strconv.Itoa(max))
	q.Set("wait", wait.String())
	var pg Page
	err := p.call(ctx, "GET", endpoint, "/geodr/v1/namespaces/"+url.PathEscape(ns)+"/log?"+q.Encode(), Credential{LinkKey: linkKey}, nil, &pg)
	return pg, err
}

func (p peerClient) breakPairing(ctx context.Context, endpoint, alias, linkKey string) error {
	return p.call(ctx, "POST", endpoint, "/geodr/v1/aliases/"+url.PathEscape(alias)+"/break", Credential{LinkKey: linkKey}, struct{}{}, nil)
}

func (p peerClient) fence(ctx context.Context, endpoint, alias, linkKey string, req FenceRequest) error {
	return p.call(ctx, "POST", endpoint, "/geodr/v1/aliases/"+url.PathEscape(alias)+"/fence", Credential{LinkKey: linkKey}, req, nil)
}

func describePeer(p *meta.Peer) string {
	if p == nil {
		return "an unknown region"
	}
	return fmt.Sprintf("namespace %s in region %s (%s)", p.Namespace, p.Region, p.Endpoint)
}
