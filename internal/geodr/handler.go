package geodr

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Handler serves the region-to-region API under /geodr/v1/ (see peer.go for the routes).
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /geodr/v1/aliases/{alias}", func(w http.ResponseWriter, r *http.Request) {
		alias := r.PathValue("alias")
		if r.Header.Get("Authorization") == "" {
			st, err := m.PublicStatus(alias)
			reply(w, st, err)
			return
		}
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		st, err := m.partnerStatus(alias, r)
		reply(w, st, err)
	})
	mux.HandleFunc("GET /geodr/v1/namespaces/{ns}/facts", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		ns := r.PathValue("ns")
		if _, err := m.checkManage(r, ns); err != nil {
			reply(w, nil, err)
			return
		}
		f, err := m.localFacts(ns, r.URL.Query().Get("alias"))
		reply(w, f, err)
	})
	mux.HandleFunc("POST /geodr/v1/namespaces/{ns}/pair", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		ns := r.PathValue("ns")
		admin, err := m.checkManage(r, ns)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var req PairRequest
		if err := decode(r, &req); err != nil {
			reply(w, nil, err)
			return
		}
		self, err := m.pairSecondary(r.Context(), ns, req, admin)
		reply(w, self, err)
	})
	mux.HandleFunc("GET /geodr/v1/namespaces/{ns}/snapshot", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		ns := r.PathValue("ns")
		cfg, err := m.pairedPrimary(ns, linkKey(r))
		if err != nil {
			reply(w, nil, err)
			return
		}
		n, idx, err := m.b.NamespaceState(ns)
		if err == nil {
			n.Alias = nil
		}
		reply(w, Snapshot{Index: idx, Epoch: cfg.Epoch, Namespace: n}, err)
	})
	mux.HandleFunc("GET /geodr/v1/namespaces/{ns}/log", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		q := r.URL.Query()
		after, err := strconv.ParseUint(q.Get("after"), 10, 64)
		if err != nil {
			reply(w, nil, errcode.New(errcode.InvalidArgument, "after=%q is not a metadata log index", q.Get("after")))
			return
		}
		limit, _ := strconv.Atoi(q.Get("max"))
		wait, _ := time.ParseDuration(q.Get("wait"))
		pg, err := m.feed(r.Context(), r.PathValue("ns"), linkKey(r), after, limit, wait)
		reply(w, pg, err)
	})
	mux.HandleFunc("POST /geodr/v1/aliases/{alias}/break", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, struct{}{}, m.brokenByPrimary(r.Context(), r.PathValue("alias"), linkKey(r)))
	})
	mux.HandleFunc("POST /geodr/v1/aliases/{alias}/fence", func(w http.ResponseWriter, r *http.Request) {
		if err := m.synced(r); err != nil {
			reply(w, nil, err)
			return
		}
		var req FenceRequest
		if err := decode(r, &req); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, struct{}{}, m.fencedByPeer(r.Context(), r.PathValue("alias"), linkKey(r), req))
	})
	return mux
}

// synced makes this node's metadata hold every change acknowledged in the region before the
// partner's call (broker.SyncMetadata; at once on a single node), so that any node of a
// cluster answers the partner as the leader would: a lagging follower must not report an alias
// as gone or unpaired, nor serve a snapshot older than what the partner already applied. A node
// that cannot reach a quorum answers Unavailable and the partner retries.
func (m *Manager) synced(r *http.Request) error { return m.b.SyncMetadata(r.Context()) }

// checkManage authenticates a pairing call: the node admin key (admin is then true), or a SAS
// token of a rule with Manage on namespace ns.
func (m *Manager) checkManage(r *http.Request, ns string) (admin bool, err error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if key, ok := adminKey(r); ok {
		if m.b.CheckAdminKey(key) {
			return true, nil
		}
		return false, errcode.New(errcode.Unauthorized, "the partner admin key does not match region %s's admin key", m.b.Region())
	}
	if h == "" {
		return false, errcode.New(errcode.Unauthorized,
			"pairing namespace %s needs a credential: a connection string of a Manage rule of the namespace, or the node admin key", ns)
	}
	p, err := m.b.AuthenticateSAS(ns, "", h)
	if err != nil {
		return false, err
	}
	if !p.Manage || p.EntityPath != "" || p.Alias != "" {
		return false, errcode.New(errcode.Forbidden, "rule %q does not grant Manage on namespace %s, which pairing needs", p.KeyName, ns)
	}
	return false, nil
}

// partnerStatus is the full status of alias for a caller with its link key (the current
// pairing's, or the one before a fail-forward) or the node admin key.
func (m *Manager) partnerStatus(alias string, r *http.Request) (Status, error) {
	key, isAdmin := adminKey(r)
	link := linkKey(r)
	switch {
	case isAdmin && !m.b.CheckAdminKey(key):
		return Status{}, errcode.New(errcode.Unauthorized, "the admin key does not match region %s's admin key", m.b.Region())
	case !isAdmin && link == "":
		return Status{}, errcode.New(errcode.Unauthorized,
			"the status of alias %q needs the pairing's link key (TandemLink) or the node admin key; without a credential it is public", alias)
	}
	ns, cfg, ok := m.b.AliasHolder(alias)
	if !ok {
		return Status{}, errcode.New(errcode.NotFound, "no namespace holds alias %q in region %s", alias, m.b.Region())
	}
	if !isAdmin && !sameKey(link, cfg.LinkKey) && !sameKey(link, cfg.FormerLinkKey) {
		return Status{}, errcode.New(errcode.Unauthorized, "the link key does not match alias %q in region %s", alias, m.b.Region())
	}
	return m.status(ns, cfg), nil
}

func adminKey(r *http.Request) (string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return strings.TrimSpace(rest), strings.EqualFold(scheme, "TandemKey")
}

func linkKey(r *http.Request) string {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, linkScheme) {
		return ""
	}
	return strings.TrimSpace(rest)
}

func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errcode.New(errcode.InvalidArgument, "reading the request body: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errcode.New(errcode.InvalidArgument, "the request body is not the expected JSON: %w", err)
	}
	return nil
}

// reply writes v as JSON, or err as {"error":{"code","message"}} with its HTTP status.
func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(protocolHeader, "1")
	if err != nil {
		w.WriteHeader(errcode.HTTPStatus(err))
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
			"code": string(errcode.CodeOf(err)), "message": err.Error()}})
		return
	}
	json.NewEncoder(w).Encode(v)
}
