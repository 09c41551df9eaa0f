package geodr

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
//	GET  /geodr/v1/aliases/{alias}             the alias here: PublicStatus without a credential,
//	                                            Status with the link key (or the admin key)
//	GET  /geodr/v1/namespaces/{ns}/facts        pairing facts of ns     (Manage on ns, or admin key)
//	POST /geodr/v1/namespaces/{ns}/pair         make ns a secondary     (Manage on ns, or admin key)
//	GET  /geodr/v1/namespaces/{ns}/snapshot     ns's replicated state   (link key)
//	GET  /geodr/v1/namespaces/{ns}/log          ns's changes after a log index, long-polled (link key)
//	POST /geodr/v1/aliases/{alias}/break        the primary broke the pairing   (link key)
//	POST /geodr/v1/aliases/{alias}/fence        a failover moved the alias away (link key)
//
// The link key is a random secret the primary generates at pairing and gives the secondary;
// it travels as "Authorization: TandemLink <key>". Every answer of this API carries the
// header protocolHeader, so a client repeats an error message only from a Tandem region and
// never the body of whatever else answered at a partner endpoint.
const (
	linkScheme     = "TandemLink"
	protocolHeader = "Tandem-Geodr"
)

// Facts is what a region tells a would-be primary about one of its namespaces.
type Facts struct {
	Namespace  NamespaceFacts `json:"namespace"`
	AliasTaken bool           `json:"aliasTaken"` // the alias asked about names a namespace or alias here
	// AliasTakenBy explains a taken alias the user can free (a stale alias left on a former
	// primary), "" otherwise.
	AliasTakenBy string    `json:"aliasTakenBy,omitempty"`
	Self         meta.Peer `json:"self"` // how to reach the namespace's region
}

// PairRequest asks a region to make one of its namespaces the secondary of an alias. Epoch is
// the primary's epoch; the secondary does not take it on the caller's word (a new secondary
// starts at 1) but learns it from the primary's snapshot, which the link key authenticates.
type PairRequest struct {
	Alias   string         `json:"alias"`
	Epoch   uint64         `json:"epoch"`
	LinkKey string         `json:"linkKey"`
	Primary meta.Peer      `json:"primary"`
	Facts   NamespaceFacts `json:"facts"` // the primary's, for the secondary to check the rules too
	// Claims prove, where the alias name is reserved for this primary's pairing, that the
	// primary knows the pairing's link key (reserve.go).
	Claims []string `json:"claims,omitempty"`
}

// Status is the state of an alias in one region, as its partner sees it: shown only to a
// caller with the pairing's link key (or the node admin key). Fencing trusts only this.
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

// PublicStatus is what anyone may learn of an alias in a region: whether it is active here,
// where it is active as this region knows, and its epoch. It names no namespace, partner or
// address.
type PublicStatus struct {
	Alias        string `json:"alias"`
	Region       string `json:"region"`
	Active       bool   `json:"active"`
	ActiveRegion string `json:"activeRegion,omitempty"`
	Epoch        uint64 `json:"epoch"`
}

// PeerRef names a namespace in a region.
type PeerRef struct {
	Region    string `json:"region"`
	Namespace string `json:"namespace"`
}

// Snapshot is a primary namespace's replicated state at a metadata log index, and the
// primary's alias epoch (which the secondary takes: a failover must go past it).
type Snapshot struct {
	Index     uint64          `json:"index"`
	Epoch     uint64          `json:"epoch"`
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

// peerClient calls another region's /geodr/v1 API. It never follows a redirect, and it tells
// its caller what went wrong without repeating what a non-Tandem server answered: a partner
// endpoint is set by a user, so the answer must not make the node an oracle for the network
// behind it.
type peerClient struct {
	hc  *http.Client
	log *slog.Logger
	// check vets an endpoint before every call: its shape, and the operator's list of
	// allowed partner regions when there is one.
	check func(endpoint string) (string, error)
}

// newPeerClient returns a client over hc, or over a client of its own that uses tlsConfig for
// https:// partners when hc is nil.
func newPeerClient(hc *http.Client, tlsConfig *tls.Config, log *slog.Logger, check func(string) (string, error)) peerClient {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig.Clone()
		c.Transport = tr
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return peerClient{hc: &c, log: log, check: check}
}

func (p peerClient) call(ctx context.Context, method, endpoint, path string, cred Credential, in, out any) error {
	base, err := p.check(endpoint)
	if err != nil {
		return err
	}
	host := hostOf(base)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return errcode.New(errcode.Internal, "encoding geo-DR request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
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
		p.log.Debug("geo-DR call failed", "method", method, "endpoint", base, "path", req.URL.Path, "err", err)
		return connectError(ctx, host, err)
	}
	defer resp.Body.Close()
	fromTandem := resp.Header.Get(protocolHeader) != ""
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return &errcode.Error{Code: errcode.Unavailable, Msg: "the partner region at " + host + " broke off its answer", Err: err}
	}
	if resp.StatusCode >= 300 {
		if e, ok := errcode.FromBody(data); ok && fromTandem {
			return e
		}
		return errcode.New(errcode.Unavailable, "the partner region at %s answered HTTP %d; is it a Tandem region's HTTP API?", host, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil || !fromTandem {
		return errcode.New(errcode.Unavailable, "the partner region at %s did not answer as a Tandem region's HTTP API does", host)
	}
	return nil
}

// connectError says that a call found no partner, keeping the cause (for the log) out of the
// message: which of refused, reset or closed it was would tell a user what listens where.
func connectError(ctx context.Context, host string, err error) error {
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case ctx.Err() != nil:
		return &errcode.Error{Code: errcode.Timeout, Msg: "the partner region at " + host + " did not answer in time", Err: err}
	case errors.As(err, &certErr):
		return &errcode.Error{Code: errcode.Unavailable, Err: err,
			Msg: "the partner region at " + host + " has a TLS certificate this region does not trust; give the region the CA that signed it"}
	case errors.As(err, &recErr):
		return &errcode.Error{Code: errcode.Unavailable, Err: err,
			Msg: "the partner region at " + host + " does not speak TLS; use http:// for it, or turn TLS on there"}
	}
	return &errcode.Error{Code: errcode.Unavailable, Msg: "could not connect to the partner region at " + host, Err: err}
}

// detail is err's message with its hidden cause, for the log.
func detail(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) && e.Err != nil && !strings.Contains(e.Msg, e.Err.Error()) {
		return e.Msg + ": " + e.Err.Error()
	}
	return err.Error()
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

// status asks the partner for its side of alias, authenticated with the pairing's link key: a
// region answers only if its holder of alias has that key, so the answer is the partner's.
func (p peerClient) status(ctx context.Context, endpoint, alias, linkKey string) (Status, error) {
	var s Status
	err := p.call(ctx, "GET", endpoint, "/geodr/v1/aliases/"+url.PathEscape(alias), Credential{LinkKey: linkKey}, nil, &s)
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
