package client

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Namespace is a tenant container of event hubs.
type Namespace struct {
	Name             string
	Tier             string // Basic, Standard, Premium or Dedicated
	Cluster          string
	Region           string
	DefaultAction    string   // network default action: Allow or Deny
	IPRules          []string // CIDRs allowed when DefaultAction is Deny
	PrivateEndpoints []string
	HubCount         int
	Endpoint         string // sb://<namespace>/, the endpoint of its connection strings
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NamespaceOptions are the settings of CreateNamespace and UpdateNamespace; empty fields
// take the default (create) or stay unchanged (update).
type NamespaceOptions struct {
	Tier             string
	Cluster          string
	DefaultAction    string
	IPRules          []string // nil leaves them; an empty non-nil slice clears them
	PrivateEndpoints []string // nil leaves them; an empty non-nil slice clears them
}

type namespaceWire struct {
	Name       string   `json:"name,omitempty"`
	Location   string   `json:"location,omitempty"`
	SKU        *skuWire `json:"sku,omitempty"`
	Properties struct {
		ClusterArmID       string       `json:"clusterArmId,omitempty"`
		NetworkRuleSet     *ruleSetWire `json:"networkRuleSet,omitempty"`
		PrivateEndpoints   *[]string    `json:"privateEndpoints,omitempty"`
		ServiceBusEndpoint string       `json:"serviceBusEndpoint,omitempty"`
		EventHubCount      int          `json:"eventHubCount,omitempty"`
		CreatedAt          time.Time    `json:"createdAt,omitzero"`
		UpdatedAt          time.Time    `json:"updatedAt,omitzero"`
	} `json:"properties"`
}

type skuWire struct {
	Name string `json:"name,omitempty"`
	Tier string `json:"tier,omitempty"`
}

type ruleSetWire struct {
	DefaultAction string       `json:"defaultAction,omitempty"`
	IPRules       []ipRuleWire `json:"ipRules"`
}

type ipRuleWire struct {
	IPMask string `json:"ipMask"`
	Action string `json:"action,omitempty"`
}

func (w namespaceWire) namespace() Namespace {
	n := Namespace{Name: w.Name, Region: w.Location, Cluster: w.Properties.ClusterArmID,
		HubCount: w.Properties.EventHubCount, Endpoint: w.Properties.ServiceBusEndpoint,
		CreatedAt: w.Properties.CreatedAt, UpdatedAt: w.Properties.UpdatedAt}
	if w.SKU != nil {
		n.Tier = w.SKU.Tier
	}
	if rs := w.Properties.NetworkRuleSet; rs != nil {
		n.DefaultAction = rs.DefaultAction
		for _, r := range rs.IPRules {
			n.IPRules = append(n.IPRules, r.IPMask)
		}
	}
	if pe := w.Properties.PrivateEndpoints; pe != nil {
		n.PrivateEndpoints = *pe
	}
	return n
}

func namespaceBody(o NamespaceOptions) namespaceWire {
	var w namespaceWire
	if o.Tier != "" {
		w.SKU = &skuWire{Name: o.Tier, Tier: o.Tier}
	}
	w.Properties.ClusterArmID = o.Cluster
	if o.DefaultAction != "" || o.IPRules != nil {
		w.Properties.NetworkRuleSet = &ruleSetWire{DefaultAction: o.DefaultAction, IPRules: []ipRuleWire{}}
		for _, ip := range o.IPRules {
			w.Properties.NetworkRuleSet.IPRules = append(w.Properties.NetworkRuleSet.IPRules, ipRuleWire{IPMask: ip, Action: "Allow"})
		}
	}
	if o.PrivateEndpoints != nil {
		pe := o.PrivateEndpoints
		w.Properties.PrivateEndpoints = &pe
	}
	return w
}

// CreateNamespace creates namespace ns (it needs the admin key), or updates it if it exists.
func (c *Client) CreateNamespace(ctx context.Context, ns string, o NamespaceOptions) (Namespace, error) {
	var out namespaceWire
	err := c.do(ctx, http.MethodPut, nsPath(ns), namespaceBody(o), &out)
	return out.namespace(), err
}

// UpdateNamespace changes the settings o gives of namespace ns; it fails if ns does not exist.
func (c *Client) UpdateNamespace(ctx context.Context, ns string, o NamespaceOptions) (Namespace, error) {
	if _, err := c.GetNamespace(ctx, ns); err != nil {
		return Namespace{}, err
	}
	return c.CreateNamespace(ctx, ns, o)
}

// GetNamespace returns namespace ns.
func (c *Client) GetNamespace(ctx context.Context, ns string) (Namespace, error) {
	var out namespaceWire
	err := c.do(ctx, http.MethodGet, nsPath(ns), nil, &out)
	return out.namespace(), err
}

// ListNamespaces lists the namespaces the caller can see.
func (c *Client) ListNamespaces(ctx context.Context) ([]Namespace, error) {
	var out list[namespaceWire]
	if err := c.do(ctx, http.MethodGet, "/namespaces", nil, &out); err != nil {
		return nil, err
	}
	ns := make([]Namespace, len(out.Value))
	for i, w := range out.Value {
		ns[i] = w.namespace()
	}
	return ns, nil
}

// DeleteNamespace deletes namespace ns with its event hubs and their events.
func (c *Client) DeleteNamespace(ctx context.Context, ns string) error {
	return c.do(ctx, http.MethodDelete, nsPath(ns), nil, nil)
}

// Hub is an event hub.
type Hub struct {
	Name           string
	Partitions     int32
	PartitionIDs   []string
	Retention      time.Duration
	RetentionBytes int64 // 0 = no size limit
	MaxEventBytes  int32
	Status         string
	ConsumerGroups []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Replicas are, in a cluster, each partition's replicas and leader (GetHub only); nil on
	// a single node.
	Replicas []PartitionReplicas
}

// PartitionReplicas is one partition of an event hub in a cluster: its replicas (node ids,
// the preferred leader first), its leader and leader epoch, and the in-sync replicas when the
// node that answered leads it.
type PartitionReplicas struct {
	PartitionID    string  `json:"partitionId"`
	Replicas       []int32 `json:"replicas"`
	Leader         int32   `json:"leader"` // -1: none known
	LeaderEpoch    int32   `json:"leaderEpoch"`
	InSyncReplicas []int32 `json:"inSyncReplicas,omitempty"`
}

// HubOptions are the settings of CreateHub and UpdateHub; zero fields take the default
// (create) or stay unchanged (update). Partitions may only grow.
type HubOptions struct {
	Partitions     int32
	Retention      time.Duration // rounded up to whole hours
	RetentionBytes int64
	MaxEventBytes  int32
}

type hubWire struct {
	Name       string `json:"name,omitempty"`
	Properties struct {
		PartitionCount       *int32              `json:"partitionCount,omitempty"`
		PartitionIDs         []string            `json:"partitionIds,omitempty"`
		RetentionDescription *retentionWire      `json:"retentionDescription,omitempty"`
		RetentionBytes       *int64              `json:"retentionBytes,omitempty"`
		MaxEventBytes        *int32              `json:"maxEventBytes,omitempty"`
		Status               string              `json:"status,omitempty"`
		ConsumerGroups       []string            `json:"consumerGroups,omitempty"`
		Partitions           []PartitionReplicas `json:"partitions,omitempty"`
		CreatedAt            *time.Time          `json:"createdAt,omitempty"`
		UpdatedAt            *time.Time          `json:"updatedAt,omitempty"`
	} `json:"properties"`
}

type retentionWire struct {
	RetentionTimeInHours *int64 `json:"retentionTimeInHours,omitempty"`
}

func (w hubWire) hub() Hub {
	p := w.Properties
	h := Hub{Name: w.Name, PartitionIDs: p.PartitionIDs, Status: p.Status, ConsumerGroups: p.ConsumerGroups, Replicas: p.Partitions}
	if p.PartitionCount != nil {
		h.Partitions = *p.PartitionCount
	}
	if p.RetentionDescription != nil && p.RetentionDescription.RetentionTimeInHours != nil {
		h.Retention = time.Duration(*p.RetentionDescription.RetentionTimeInHours) * time.Hour
	}
	if p.RetentionBytes != nil {
		h.RetentionBytes = *p.RetentionBytes
	}
	if p.MaxEventBytes != nil {
		h.MaxEventBytes = *p.MaxEventBytes
	}
	if p.CreatedAt != nil {
		h.CreatedAt = *p.CreatedAt
	}
	if p.UpdatedAt != nil {
		h.UpdatedAt = *p.UpdatedAt
	}
	return h
}

func hubBody(o HubOptions) hubWire {
	var w hubWire
	if o.Partitions != 0 {
		w.Properties.PartitionCount = &o.Partitions
	}
	if o.Retention != 0 {
		hours := int64((o.Retention + time.Hour - 1) / time.Hour)
		w.Properties.RetentionDescription = &retentionWire{RetentionTimeInHours: &hours}
	}
	if o.RetentionBytes != 0 {
		w.Properties.RetentionBytes = &o.RetentionBytes
	}
	if o.MaxEventBytes != 0 {
		w.Properties.MaxEventBytes = &o.MaxEventBytes
	}
	return w
}

// CreateHub creates event hub ns/hub, or updates it if it exists.
func (c *Client) CreateHub(ctx context.Context, ns, hub string, o HubOptions) (Hub, error) {
	var out hubWire
	err := c.do(ctx, http.MethodPut, hubPath(ns, hub), hubBody(o), &out)
	return out.hub(), err
}

// CreateNewHub creates event hub ns/hub and fails with AlreadyExists, changing nothing, when
// it exists (a PUT with If-None-Match: *). CreateHub creates or updates, as ARM's PUT does.
func (c *Client) CreateNewHub(ctx context.Context, ns, hub string, o HubOptions) (Hub, error) {
	var out hubWire
	err := c.doHeader(ctx, http.MethodPut, hubPath(ns, hub), http.Header{"If-None-Match": {"*"}}, hubBody(o), &out)
	return out.hub(), err
}

// UpdateHub changes the settings o gives of event hub ns/hub; it fails if the hub does not exist.
func (c *Client) UpdateHub(ctx context.Context, ns, hub string, o HubOptions) (Hub, error) {
	if _, err := c.GetHub(ctx, ns, hub); err != nil {
		return Hub{}, err
	}
	return c.CreateHub(ctx, ns, hub, o)
}

// GetHub returns event hub ns/hub.
func (c *Client) GetHub(ctx context.Context, ns, hub string) (Hub, error) {
	var out hubWire
	err := c.do(ctx, http.MethodGet, hubPath(ns, hub), nil, &out)
	return out.hub(), err
}

// ListHubs lists the event hubs of namespace ns.
func (c *Client) ListHubs(ctx context.Context, ns string) ([]Hub, error) {
	var out list[hubWire]
	if err := c.do(ctx, http.MethodGet, nsPath(ns)+"/eventhubs", nil, &out); err != nil {
		return nil, err
	}
	hs := make([]Hub, len(out.Value))
	for i, w := range out.Value {
		hs[i] = w.hub()
	}
	return hs, nil
}

// DeleteHub deletes event hub ns/hub and its events.
func (c *Client) DeleteHub(ctx context.Context, ns, hub string) error {
	return c.do(ctx, http.MethodDelete, hubPath(ns, hub), nil, nil)
}

// ConsumerGroup is a consumer group of an event hub.
type ConsumerGroup struct {
	Name         string
	UserMetadata string
	CreatedAt    time.Time
}

type groupWire struct {
	Name       string `json:"name,omitempty"`
	Properties struct {
		UserMetadata string     `json:"userMetadata,omitempty"`
		CreatedAt    *time.Time `json:"createdAt,omitempty"`
	} `json:"properties"`
}

func (w groupWire) group() ConsumerGroup {
	g := ConsumerGroup{Name: w.Name, UserMetadata: w.Properties.UserMetadata}
	if w.Properties.CreatedAt != nil {
		g.CreatedAt = *w.Properties.CreatedAt
	}
	return g
}

// CreateConsumerGroup creates consumer group name of ns/hub; creating it again with the same
// userMetadata succeeds.
func (c *Client) CreateConsumerGroup(ctx context.Context, ns, hub, name, userMetadata string) (ConsumerGroup, error) {
	var in, out groupWire
	in.Properties.UserMetadata = userMetadata
	err := c.do(ctx, http.MethodPut, groupPath(ns, hub, name), in, &out)
	return out.group(), err
}

// GetConsumerGroup returns consumer group name of ns/hub.
func (c *Client) GetConsumerGroup(ctx context.Context, ns, hub, name string) (ConsumerGroup, error) {
	var out groupWire
	err := c.do(ctx, http.MethodGet, groupPath(ns, hub, name), nil, &out)
	return out.group(), err
}

// ListConsumerGroups lists the consumer groups of ns/hub.
func (c *Client) ListConsumerGroups(ctx context.Context, ns, hub string) ([]ConsumerGroup, error) {
	var out list[groupWire]
	if err := c.do(ctx, http.MethodGet, hubPath(ns, hub)+"/consumergroups", nil, &out); err != nil {
		return nil, err
	}
	gs := make([]ConsumerGroup, len(out.Value))
	for i, w := range out.Value {
		gs[i] = w.group()
	}
	return gs, nil
}

// DeleteConsumerGroup deletes consumer group name of ns/hub with its checkpoints.
func (c *Client) DeleteConsumerGroup(ctx context.Context, ns, hub, name string) error {
	return c.do(ctx, http.MethodDelete, groupPath(ns, hub, name), nil, nil)
}

// AuthorizationRule is a shared access policy: a name and rights (Manage, Send, Listen).
type AuthorizationRule struct {
	Name   string
	Rights []string
}

// Keys are a rule's keys and the connection strings made from them. Their endpoint is
// sb://<namespace>/: clients reach the node through their own server or bootstrap setting.
type Keys struct {
	KeyName                   string `json:"keyName"`
	PrimaryKey                string `json:"primaryKey"`
	SecondaryKey              string `json:"secondaryKey"`
	PrimaryConnectionString   string `json:"primaryConnectionString"`
	SecondaryConnectionString string `json:"secondaryConnectionString"`
}

type ruleWire struct {
	Name       string `json:"name,omitempty"`
	Properties struct {
		Rights []string `json:"rights"`
	} `json:"properties"`
}

// ListAuthorizationRules lists the rules of namespace ns (hub "") or of event hub ns/hub.
func (c *Client) ListAuthorizationRules(ctx context.Context, ns, hub string) ([]AuthorizationRule, error) {
	var out list[ruleWire]
	if err := c.do(ctx, http.MethodGet, rulesPath(ns, hub), nil, &out); err != nil {
		return nil, err
	}
	rs := make([]AuthorizationRule, len(out.Value))
	for i, w := range out.Value {
		rs[i] = AuthorizationRule{Name: w.Name, Rights: w.Properties.Rights}
	}
	return rs, nil
}

// GetAuthorizationRule returns rule name of namespace ns (hub "") or of event hub ns/hub.
func (c *Client) GetAuthorizationRule(ctx context.Context, ns, hub, name string) (AuthorizationRule, error) {
	var out ruleWire
	err := c.do(ctx, http.MethodGet, rulesPath(ns, hub)+"/"+esc(name), nil, &out)
	return AuthorizationRule{Name: out.Name, Rights: out.Properties.Rights}, err
}

// PutAuthorizationRule creates or updates a rule with rights (Manage, Send, Listen).
func (c *Client) PutAuthorizationRule(ctx context.Context, ns, hub, name string, rights []string) (AuthorizationRule, error) {
	var in, out ruleWire
	in.Properties.Rights = rights
	err := c.do(ctx, http.MethodPut, rulesPath(ns, hub)+"/"+esc(name), in, &out)
	return AuthorizationRule{Name: out.Name, Rights: out.Properties.Rights}, err
}

// DeleteAuthorizationRule deletes a rule; tokens signed with its keys stop working.
func (c *Client) DeleteAuthorizationRule(ctx context.Context, ns, hub, name string) error {
	return c.do(ctx, http.MethodDelete, rulesPath(ns, hub)+"/"+esc(name), nil, nil)
}

// ListKeys returns a rule's keys and connection strings.
func (c *Client) ListKeys(ctx context.Context, ns, hub, name string) (Keys, error) {
	var out Keys
	err := c.do(ctx, http.MethodPost, rulesPath(ns, hub)+"/"+esc(name)+"/listKeys", nil, &out)
	return out, err
}

// RegenerateKeys replaces a rule's primary or secondary key (keyType "PrimaryKey" or
// "SecondaryKey") and returns the new keys.
func (c *Client) RegenerateKeys(ctx context.Context, ns, hub, name, keyType string) (Keys, error) {
	var out Keys
	in := map[string]string{"keyType": keyType}
	if strings.TrimSpace(keyType) == "" {
		in["keyType"] = "PrimaryKey"
	}
	err := c.do(ctx, http.MethodPost, rulesPath(ns, hub)+"/"+esc(name)+"/regenerateKeys", in, &out)
	return out, err
}
