package httpapi

import (
	"net/http"
	"strings"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// ruleJSON is a shared access policy (authorization rule) as ARM shapes it; keys are only
// shown by listKeys.
type ruleJSON struct {
	Name       string    `json:"name"`
	Type       string    `json:"type,omitempty"`
	Properties ruleProps `json:"properties"`
}

type ruleProps struct {
	Rights []string `json:"rights"`
}

// keysJSON is the answer of listKeys and regenerateKeys. The connection strings' endpoint
// host is the namespace name (sb://<ns>/): clients resolve it to a node through their own
// bootstrap or server setting, as Tandem has no DNS of its own.
type keysJSON struct {
	KeyName                   string `json:"keyName"`
	PrimaryKey                string `json:"primaryKey"`
	SecondaryKey              string `json:"secondaryKey"`
	PrimaryConnectionString   string `json:"primaryConnectionString"`
	SecondaryConnectionString string `json:"secondaryConnectionString"`
}

func ruleOut(p broker.PolicyInfo, hub string) ruleJSON {
	t := "Microsoft.EventHub/namespaces/authorizationRules"
	if hub != "" {
		t = "Microsoft.EventHub/namespaces/eventhubs/authorizationRules"
	}
	return ruleJSON{Name: p.Name, Type: t, Properties: ruleProps{Rights: append([]string{}, p.Rights...)}}
}

func keysOut(ns, hub string, p broker.PolicyInfo) keysJSON {
	cs := func(key string) string {
		return auth.ConnectionString{Endpoint: "sb://" + ns + "/", SharedAccessKeyName: p.Name,
			SharedAccessKey: key, EntityPath: hub}.String()
	}
	return keysJSON{KeyName: p.Name, PrimaryKey: p.PrimaryKey, SecondaryKey: p.SecondaryKey,
		PrimaryConnectionString: cs(p.PrimaryKey), SecondaryConnectionString: cs(p.SecondaryKey)}
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := s.b.Policies(c.ns, c.hub)
	if err != nil {
		return err
	}
	out := []ruleJSON{}
	for _, p := range ps {
		out = append(out, ruleOut(p, c.hub))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ruleJSON
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	name := r.PathValue("rule")
	if err := sameName("authorization rule", name, in.Name); err != nil {
		return err
	}
	rights, err := auth.ParseRights(strings.Join(in.Properties.Rights, ","))
	if err != nil {
		return errcode.New(errcode.InvalidArgument, "properties.rights: %w", err)
	}
	names := make([]string, len(rights))
	for i, rt := range rights {
		names[i] = string(rt)
	}
	status := http.StatusOK
	if _, err := s.b.Policy(c.ns, c.hub, name); errcode.Is(err, errcode.NotFound) {
		status = http.StatusCreated
	}
	p, err := s.b.PutPolicy(r.Context(), c.ns, c.hub, name, names)
	if err != nil {
		return err
	}
	writeJSON(w, status, ruleOut(p, c.hub))
	return nil
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.b.Policy(c.ns, c.hub, r.PathValue("rule"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ruleOut(p, c.hub))
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.b.DeletePolicy(r.Context(), c.ns, c.hub, r.PathValue("rule")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.b.Policy(c.ns, c.hub, r.PathValue("rule"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keysOut(c.ns, c.hub, p))
	return nil
}

func (s *Server) regenerateKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		KeyType string `json:"keyType"`
	}
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	var kt string
	switch strings.ToLower(in.KeyType) {
	case "primarykey", "primary":
		kt = "PrimaryKey"
	case "secondarykey", "secondary":
		kt = "SecondaryKey"
	default:
		return errcode.New(errcode.InvalidArgument, "keyType %q is invalid; use PrimaryKey or SecondaryKey", clip(in.KeyType))
	}
	p, err := s.b.RegenerateKey(r.Context(), c.ns, c.hub, r.PathValue("rule"), kt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keysOut(c.ns, c.hub, p))
	return nil
}
