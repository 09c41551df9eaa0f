package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/geodr"
)

// The geo-DR alias resources, shaped like Event Hubs' disasterRecoveryConfigs. The
// region-to-region protocol is internal/geodr's own handler, mounted at /geodr/v1/.

const aliasPath = nsPath + "/disasterRecoveryConfigs/{alias}"

func (s *Server) aliasRoutes() {
	s.handle("POST "+nsPath+"/disasterRecoveryConfigs/checkNameAvailability", needManage, s.checkAliasName)
	s.handle("GET "+nsPath+"/disasterRecoveryConfigs", needManage, s.listAliases)
	s.handle("PUT "+aliasPath, needNamespaceWrite, s.putAlias)
	s.handle("GET "+aliasPath, needManage, s.getAlias)
	s.handle("DELETE "+aliasPath, needNamespaceWrite, s.deleteAlias)
	s.handle("POST "+aliasPath+"/breakPairing", needNamespaceWrite, s.breakPairing)
	s.handle("POST "+aliasPath+"/failover", needNamespaceWrite, s.failover)
	s.handle("GET "+aliasPath+"/authorizationRules", needManage, s.listAliasRules)
	s.handle("GET "+aliasPath+"/authorizationRules/{rule}", needManage, s.getAliasRule)
	s.handle("POST "+aliasPath+"/authorizationRules/{rule}/listKeys", needManage, s.listAliasKeys)
}

type aliasJSON struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Properties aliasProps `json:"properties"`
}

type aliasProps struct {
	Namespace               string     `json:"namespace"`
	Region                  string     `json:"region"`
	ProvisioningState       string     `json:"provisioningState"`
	Reason                  string     `json:"reason,omitempty"`
	Role                    string     `json:"role"`
	PartnerNamespace        string     `json:"partnerNamespace,omitempty"`
	PartnerRegion           string     `json:"partnerRegion,omitempty"`
	PartnerEndpoint         string     `json:"partnerEndpoint,omitempty"`
	PendingReplicationOps   int        `json:"pendingReplicationOperationsCount"`
	ReplicationLagSeconds   float64    `json:"replicationLagSeconds"`
	Epoch                   uint64     `json:"epoch"`
	ActiveRegion            string     `json:"activeRegion,omitempty"`
	ActiveNamespace         string     `json:"activeNamespace,omitempty"`
	Lost                    bool       `json:"lost"`
	PartnerReachable        bool       `json:"partnerReachable"`
	LastPartnerContact      *time.Time `json:"lastPartnerContact,omitempty"`
	LastError               string     `json:"lastError,omitempty"`
	FormerPrimaryNotified   *bool      `json:"formerPrimaryNotified,omitempty"`
	PartnerConnectionString string     `json:"partnerConnectionString,omitempty"` // input only
	PartnerAdminKey         string     `json:"partnerAdminKey,omitempty"`         // input only
}

func aliasOut(st geodr.AliasStatus) aliasJSON {
	cfg := st.Config
	p := aliasProps{Namespace: st.Namespace, Region: st.Region, ProvisioningState: cfg.ProvisioningState,
		Reason: cfg.Reason, Role: string(cfg.Role), PendingReplicationOps: st.Pending,
		ReplicationLagSeconds: st.Lag.Seconds(), Epoch: cfg.Epoch, ActiveRegion: st.ActiveRegion,
		ActiveNamespace: st.ActiveNamespace, Lost: cfg.Lost, PartnerReachable: st.PartnerReachable, LastError: st.LastError}
	peer := cfg.Partner
	if peer == nil {
		peer = cfg.Former
	}
	if peer != nil {
		p.PartnerNamespace, p.PartnerRegion, p.PartnerEndpoint = peer.Namespace, peer.Region, peer.Endpoint
	}
	if !st.LastContact.IsZero() {
		t := st.LastContact
		p.LastPartnerContact = &t
	}
	return aliasJSON{Name: cfg.Name, Type: "Microsoft.EventHub/Namespaces/disasterrecoveryconfigs", Properties: p}
}

func (s *Server) checkAliasName(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	if _, err := s.b.Namespace(c.ns); err != nil {
		return err
	}
	ok, reason, msg := s.geo.CheckName(c.ns, in.Name)
	writeJSON(w, http.StatusOK, map[string]any{"nameAvailable": ok, "reason": reason, "message": msg})
	return nil
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := s.geo.List(c.ns)
	if err != nil {
		return err
	}
	out := []aliasJSON{}
	for _, st := range list {
		out = append(out, aliasOut(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (s *Server) putAlias(w http.ResponseWriter, r *http.Request, c *call) error {
	var in aliasJSON
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	alias := r.PathValue("alias")
	if err := sameName("alias", alias, in.Name); err != nil {
		return err
	}
	p := in.Properties
	_, err := s.geo.Create(r.Context(), c.ns, alias, geodr.CreateOptions{
		PartnerNamespace: p.PartnerNamespace, PartnerEndpoint: p.PartnerEndpoint, Admin: c.who.admin,
		Credential: geodr.Credential{ConnectionString: p.PartnerConnectionString, AdminKey: p.PartnerAdminKey}})
	if err != nil {
		return err
	}
	return s.writeAlias(w, c.ns, alias, nil)
}

func (s *Server) writeAlias(w http.ResponseWriter, ns, alias string, notified *bool) error {
	st, err := s.geo.Describe(ns, alias)
	if err != nil {
		return err
	}
	out := aliasOut(st)
	out.Properties.FormerPrimaryNotified = notified
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.writeAlias(w, c.ns, r.PathValue("alias"), nil)
}

// deleteAlias deletes an alias; its name stays reserved in this region for its pairing.
// With ?release=true it also drops that reservation (the namespace's own, or any with the
// admin key), and on an alias already deleted only drops it: the reservation is what is
// left of this resource, so it is released where the resource was.
func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request, c *call) error {
	alias := r.PathValue("alias")
	var err error
	switch rel := r.URL.Query().Get("release"); rel {
	case "", "false":
		err = s.geo.Delete(r.Context(), c.ns, alias)
	case "true":
		err = s.geo.Release(r.Context(), c.ns, alias, c.who.admin)
	default:
		err = errcode.New(errcode.InvalidArgument, "release=%q is not true or false", rel)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (s *Server) breakPairing(w http.ResponseWriter, r *http.Request, c *call) error {
	alias := r.PathValue("alias")
	if _, err := s.geo.BreakPairing(r.Context(), c.ns, alias); err != nil {
		return err
	}
	return s.writeAlias(w, c.ns, alias, nil)
}

func (s *Server) failover(w http.ResponseWriter, r *http.Request, c *call) error {
	alias := r.PathValue("alias")
	res, err := s.geo.Failover(r.Context(), c.ns, alias)
	if err != nil {
		return err
	}
	return s.writeAlias(w, c.ns, alias, &res.FormerPrimaryNotified)
}

// aliasRules checks that ns holds alias; the alias's authorization rules are the
// namespace's own (geo-DR replicates them to the secondary, so they work on both sides).
func (s *Server) aliasRules(c *call, alias string) error {
	_, err := s.geo.Describe(c.ns, alias)
	return err
}

func (s *Server) listAliasRules(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.aliasRules(c, r.PathValue("alias")); err != nil {
		return err
	}
	ps, err := s.b.Policies(c.ns, "")
	if err != nil {
		return err
	}
	out := []ruleJSON{}
	for _, p := range ps {
		j := ruleOut(p, "")
		j.Type = "Microsoft.EventHub/Namespaces/disasterrecoveryconfigs/authorizationRules"
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (s *Server) getAliasRule(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.aliasRules(c, r.PathValue("alias")); err != nil {
		return err
	}
	p, err := s.b.Policy(c.ns, "", r.PathValue("rule"))
	if err != nil {
		return err
	}
	j := ruleOut(p, "")
	j.Type = "Microsoft.EventHub/Namespaces/disasterrecoveryconfigs/authorizationRules"
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) listAliasKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	alias := r.PathValue("alias")
	if err := s.aliasRules(c, alias); err != nil {
		return err
	}
	p, err := s.b.Policy(c.ns, "", r.PathValue("rule"))
	if err != nil {
		return err
	}
	cs := func(key string) string {
		return auth.ConnectionString{Endpoint: "sb://" + strings.ToLower(alias) + "/", SharedAccessKeyName: p.Name, SharedAccessKey: key}.String()
	}
	writeJSON(w, http.StatusOK, map[string]string{"keyName": p.Name, "primaryKey": p.PrimaryKey, "secondaryKey": p.SecondaryKey,
		"aliasPrimaryConnectionString": cs(p.PrimaryKey), "aliasSecondaryConnectionString": cs(p.SecondaryKey)})
	return nil
}

// aliasRedirect answers a request that names, in place of a namespace, an alias that is
// active in another region: 307 to the same path there. It reports whether it answered.
func (s *Server) aliasRedirect(w http.ResponseWriter, r *http.Request, name string) bool {
	if name == "" {
		return false
	}
	if s.b.HasNamespace(name) {
		return false
	}
	_, cfg, ok := s.b.AliasHolder(name)
	if !ok || cfg.Active() {
		return false
	}
	peer := cfg.ActivePeer()
	if peer == nil || peer.Endpoint == "" {
		s.writeError(w, r, errcode.New(errcode.AliasNotActive,
			"alias %q is not active in region %s and the region that holds it is unknown here", name, s.b.Region()))
		return true
	}
	http.Redirect(w, r, strings.TrimRight(peer.Endpoint, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	return true
}

// aliasHere returns the local namespace that holds alias name when the alias is active here,
// so a request naming the alias acts in it.
func (s *Server) aliasHere(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	if s.b.HasNamespace(name) {
		return "", false
	}
	ns, cfg, ok := s.b.AliasHolder(name)
	return ns, ok && cfg.Active()
}
