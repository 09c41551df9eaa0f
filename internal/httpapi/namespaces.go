package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// namespaceJSON is a namespace as ARM shapes it.
type namespaceJSON struct {
	Name       string         `json:"name"`
	Type       string         `json:"type,omitempty"`
	Location   string         `json:"location,omitempty"`
	SKU        *skuJSON       `json:"sku,omitempty"`
	Properties namespaceProps `json:"properties"`
}

type skuJSON struct {
	Name string `json:"name,omitempty"`
	Tier string `json:"tier,omitempty"`
}

type namespaceProps struct {
	ClusterArmID       string              `json:"clusterArmId,omitempty"`
	NetworkRuleSet     *networkRuleSetJSON `json:"networkRuleSet,omitempty"`
	PrivateEndpoints   *[]string           `json:"privateEndpoints,omitempty"`
	Status             string              `json:"status,omitempty"`
	ProvisioningState  string              `json:"provisioningState,omitempty"`
	ServiceBusEndpoint string              `json:"serviceBusEndpoint,omitempty"`
	EventHubCount      int                 `json:"eventHubCount"`
	CreatedAt          *time.Time          `json:"createdAt,omitempty"`
	UpdatedAt          *time.Time          `json:"updatedAt,omitempty"`
}

type networkRuleSetJSON struct {
	DefaultAction string       `json:"defaultAction,omitempty"`
	IPRules       []ipRuleJSON `json:"ipRules"`
}

type ipRuleJSON struct {
	IPMask string `json:"ipMask"`
	Action string `json:"action,omitempty"`
}

func namespaceOut(n broker.NamespaceInfo) namespaceJSON {
	tier := n.Tier
	if tier == "" {
		tier = "standard"
	}
	tier = strings.ToUpper(tier[:1]) + tier[1:]
	rules := &networkRuleSetJSON{DefaultAction: n.DefaultAction, IPRules: []ipRuleJSON{}}
	if rules.DefaultAction == "" {
		rules.DefaultAction = "Allow"
	}
	for _, ip := range n.IPRules {
		rules.IPRules = append(rules.IPRules, ipRuleJSON{IPMask: ip, Action: "Allow"})
	}
	pe := append([]string{}, n.PrivateEndpoints...)
	created, updated := n.CreatedAt, n.UpdatedAt
	return namespaceJSON{
		Name: n.Name, Type: "Microsoft.EventHub/namespaces", Location: n.Region,
		SKU: &skuJSON{Name: tier, Tier: tier},
		Properties: namespaceProps{
			ClusterArmID: n.Cluster, NetworkRuleSet: rules, PrivateEndpoints: &pe,
			Status: "Active", ProvisioningState: "Succeeded", ServiceBusEndpoint: "sb://" + n.Name + "/",
			EventHubCount: n.HubCount, CreatedAt: &created, UpdatedAt: &updated,
		},
	}
}

// applyNamespaceBody sets the fields the body gives on spec and leaves the others.
func applyNamespaceBody(spec *broker.NamespaceSpec, in namespaceJSON) {
	if in.SKU != nil {
		if t := in.SKU.Tier; t != "" {
			spec.Tier = strings.ToLower(t)
		} else if in.SKU.Name != "" {
			spec.Tier = strings.ToLower(in.SKU.Name)
		}
	}
	p := in.Properties
	if p.ClusterArmID != "" {
		spec.Cluster = p.ClusterArmID
	}
	if p.NetworkRuleSet != nil {
		spec.DefaultAction = p.NetworkRuleSet.DefaultAction
		spec.IPRules = nil
		for _, r := range p.NetworkRuleSet.IPRules {
			spec.IPRules = append(spec.IPRules, r.IPMask)
		}
	}
	if p.PrivateEndpoints != nil {
		spec.PrivateEndpoints = append([]string(nil), (*p.PrivateEndpoints)...)
	}
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request, c *call) error {
	out := []namespaceJSON{}
	for _, n := range s.b.Namespaces() {
		if c.who.admin || strings.EqualFold(n.Name, c.who.Namespace) {
			out = append(out, namespaceOut(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

// putNamespace creates the namespace (admin key only) or updates it (Manage).
func (s *Server) putNamespace(w http.ResponseWriter, r *http.Request, c *call) error {
	var in namespaceJSON
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	if err := sameName("namespace", c.ns, in.Name); err != nil {
		return err
	}
	cur, err := s.b.Namespace(c.ns)
	switch {
	case errcode.Is(err, errcode.NotFound):
		if !c.who.admin {
			return errcode.New(errcode.Forbidden,
				"creating namespace %s needs the node admin key (Authorization: %s <key>)", c.ns, adminScheme)
		}
		spec := broker.NamespaceSpec{Name: c.ns}
		applyNamespaceBody(&spec, in)
		info, err := s.b.CreateNamespace(r.Context(), spec)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, namespaceOut(info))
		return nil
	case err != nil:
		return err
	}
	spec := cur.NamespaceSpec
	applyNamespaceBody(&spec, in)
	info, err := s.b.UpdateNamespace(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, namespaceOut(info))
	return nil
}

func (s *Server) getNamespace(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := s.b.Namespace(c.ns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, namespaceVisible(info, c))
	return nil
}

func (s *Server) deleteNamespace(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.b.DeleteNamespace(r.Context(), c.ns); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// sameName rejects a body whose name differs from the path's.
func sameName(kind, path, body string) error {
	if body != "" && !strings.EqualFold(body, path) {
		return errcode.New(errcode.InvalidArgument,
			"body name %q differs from the %s %q in the URL; omit the name or make them equal", clip(body), kind, path)
	}
	return nil
}
