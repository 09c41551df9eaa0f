package client

import (
	"context"
	"net/http"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Geo-DR aliases, shaped like Event Hubs' disasterRecoveryConfigs. An alias is a stable name
// that clients connect through; it points at a primary namespace in one region, paired with a
// secondary namespace in another. Create and break the pairing on the primary's region; fail
// over on the secondary's region (the primary may be gone).

// The roles a namespace can have in an alias, as Event Hubs names them.
const (
	RolePrimary               = "Primary"
	RolePrimaryNotReplicating = "PrimaryNotReplicating" // holds the alias without a partner
	RoleSecondary             = "Secondary"
)

// The provisioning states of an alias.
const (
	ProvisioningAccepted  = "Accepted"
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
)

// Alias is one namespace's side of a geo-DR alias, as the region that answered knows it.
type Alias struct {
	Name      string
	Namespace string // the local namespace that holds this side
	Region    string // the local region

	ProvisioningState string // Accepted, Succeeded or Failed
	Reason            string // why provisioning failed
	Role              string // Primary, PrimaryNotReplicating or Secondary

	// The other side: the partner while paired; after a failover, the side that held the
	// alias before (on the new primary) or holds it now (on a former primary that lost it).
	PartnerNamespace string
	PartnerRegion    string
	PartnerEndpoint  string // the partner region's HTTP API

	PendingReplicationOperations int64   // metadata changes not yet applied on the secondary
	ReplicationLagSeconds        float64 // age of the oldest of them
	Epoch                        uint64  // grows with every failover

	ActiveRegion    string // the region where alias clients are served, as this side knows it
	ActiveNamespace string // the namespace that holds the alias there

	// Lost is set on a former primary that learned it lost the alias to a failover: it takes
	// no alias traffic any more; its events stay readable through its own name.
	Lost bool

	PartnerReachable   bool
	LastPartnerContact time.Time `json:",omitzero"` // zero when the partner was never reached
	LastError          string    // why the last call to the partner failed, if it did

	// FormerPrimaryNotified is set only by Failover: whether the former primary was reached
	// and told it lost the alias. When it was not, it learns it when it comes back.
	FormerPrimaryNotified bool
}

// Paired reports whether the alias links a primary and a secondary right now.
func (a Alias) Paired() bool {
	return a.PartnerNamespace != "" && (a.Role == RolePrimary || a.Role == RoleSecondary) &&
		a.ProvisioningState != ProvisioningFailed
}

// AliasOptions are the settings of CreateAlias: the secondary namespace, the HTTP API of its
// region, and a credential the primary's region uses there: a connection string of a Manage
// rule of the secondary namespace, or the partner node's admin key (give one).
type AliasOptions struct {
	PartnerNamespace        string
	PartnerEndpoint         string // such as http://127.0.0.1:8180
	PartnerConnectionString string
	PartnerAdminKey         string
}

// NameAvailability is the answer of CheckAliasName.
type NameAvailability struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason"` // None, InvalidName or AlreadyExists
	Message       string `json:"message,omitempty"`
}

// AliasKeys are an alias rule's keys and the connection strings made from them, whose endpoint
// is sb://<alias>/: clients that use them follow the alias across a failover.
type AliasKeys struct {
	KeyName                        string `json:"keyName"`
	PrimaryKey                     string `json:"primaryKey"`
	SecondaryKey                   string `json:"secondaryKey"`
	AliasPrimaryConnectionString   string `json:"aliasPrimaryConnectionString"`
	AliasSecondaryConnectionString string `json:"aliasSecondaryConnectionString"`
}

type aliasWire struct {
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	Properties struct {
		Namespace                         string     `json:"namespace"`
		Region                            string     `json:"region"`
		ProvisioningState                 string     `json:"provisioningState"`
		Reason                            string     `json:"reason"`
		Role                              string     `json:"role"`
		PartnerNamespace                  string     `json:"partnerNamespace"`
		PartnerRegion                     string     `json:"partnerRegion"`
		PartnerEndpoint                   string     `json:"partnerEndpoint"`
		PendingReplicationOperationsCount int64      `json:"pendingReplicationOperationsCount"`
		ReplicationLagSeconds             float64    `json:"replicationLagSeconds"`
		Epoch                             uint64     `json:"epoch"`
		ActiveRegion                      string     `json:"activeRegion"`
		ActiveNamespace                   string     `json:"activeNamespace"`
		Lost                              bool       `json:"lost"`
		PartnerReachable                  bool       `json:"partnerReachable"`
		LastPartnerContact                *time.Time `json:"lastPartnerContact"`
		LastError                         string     `json:"lastError"`
		FormerPrimaryNotified             bool       `json:"formerPrimaryNotified"`
	} `json:"properties"`
}

func (w aliasWire) alias() Alias {
	p := w.Properties
	a := Alias{
		Name: w.Name, Namespace: p.Namespace, Region: p.Region,
		ProvisioningState: p.ProvisioningState, Reason: p.Reason, Role: p.Role,
		PartnerNamespace: p.PartnerNamespace, PartnerRegion: p.PartnerRegion, PartnerEndpoint: p.PartnerEndpoint,
		PendingReplicationOperations: p.PendingReplicationOperationsCount, ReplicationLagSeconds: p.ReplicationLagSeconds,
		Epoch: p.Epoch, ActiveRegion: p.ActiveRegion, ActiveNamespace: p.ActiveNamespace, Lost: p.Lost,
		PartnerReachable: p.PartnerReachable, LastError: p.LastError, FormerPrimaryNotified: p.FormerPrimaryNotified,
	}
	if p.LastPartnerContact != nil {
		a.LastPartnerContact = *p.LastPartnerContact
	}
	return a
}

type aliasBody struct {
	Name       string `json:"name"`
	Properties struct {
		PartnerNamespace        string `json:"partnerNamespace"`
		PartnerEndpoint         string `json:"partnerEndpoint"`
		PartnerConnectionString string `json:"partnerConnectionString,omitempty"`
		PartnerAdminKey         string `json:"partnerAdminKey,omitempty"`
	} `json:"properties"`
}

func aliasesPath(ns string) string           { return nsPath(ns) + "/disasterRecoveryConfigs" }
func aliasPath(ns, alias string) string      { return aliasesPath(ns) + "/" + esc(alias) }
func aliasRulesPath(ns, alias string) string { return aliasPath(ns, alias) + "/authorizationRules" }

// CheckAliasName tells whether alias is free to be created on namespace ns, and if not, why.
func (c *Client) CheckAliasName(ctx context.Context, ns, alias string) (NameAvailability, error) {
	var out NameAvailability
	err := c.do(ctx, http.MethodPost, aliasesPath(ns)+"/checkNameAvailability", map[string]string{"name": alias}, &out)
	return out, err
}

// CreateAlias pairs namespace ns (the primary, on the node c talks to) with o.PartnerNamespace
// on the node at o.PartnerEndpoint (the secondary, which must be new and empty) under the name
// alias. Pairing goes on in the background: the answer is usually Accepted; WaitAlias waits
// until it has Succeeded or Failed.
func (c *Client) CreateAlias(ctx context.Context, ns, alias string, o AliasOptions) (Alias, error) {
	if (o.PartnerConnectionString == "") == (o.PartnerAdminKey == "") {
		return Alias{}, errcode.New(errcode.InvalidArgument,
			"alias %q needs one credential for the partner region: a connection string of a Manage rule of namespace %q, or the partner node's admin key",
			alias, o.PartnerNamespace)
	}
	var in aliasBody
	in.Name = alias
	in.Properties.PartnerNamespace = o.PartnerNamespace
	in.Properties.PartnerEndpoint = o.PartnerEndpoint
	in.Properties.PartnerConnectionString = o.PartnerConnectionString
	in.Properties.PartnerAdminKey = o.PartnerAdminKey
	var out aliasWire
	err := c.do(ctx, http.MethodPut, aliasPath(ns, alias), in, &out)
	return out.alias(), err
}

// GetAlias returns namespace ns's side of alias.
func (c *Client) GetAlias(ctx context.Context, ns, alias string) (Alias, error) {
	var out aliasWire
	err := c.do(ctx, http.MethodGet, aliasPath(ns, alias), nil, &out)
	return out.alias(), err
}

// ListAliases lists the aliases of namespace ns (at most one in Tandem, as in Event Hubs).
func (c *Client) ListAliases(ctx context.Context, ns string) ([]Alias, error) {
	var out list[aliasWire]
	if err := c.do(ctx, http.MethodGet, aliasesPath(ns), nil, &out); err != nil {
		return nil, err
	}
	as := make([]Alias, len(out.Value))
	for i, w := range out.Value {
		as[i] = w.alias()
	}
	return as, nil
}

// BreakPairing stops replication from primary namespace ns to its secondary; both namespaces
// keep their entities and the alias stays on ns. Run it on the primary's region.
func (c *Client) BreakPairing(ctx context.Context, ns, alias string) (Alias, error) {
	var out aliasWire
	err := c.do(ctx, http.MethodPost, aliasPath(ns, alias)+"/breakPairing", nil, &out)
	return out.alias(), err
}

// Failover makes secondary namespace ns the holder of alias and breaks the pairing, once and
// for good. Run it on the secondary's region; it works while the primary is down.
// Alias.FormerPrimaryNotified says whether the former primary was told.
func (c *Client) Failover(ctx context.Context, ns, alias string) (Alias, error) {
	var out aliasWire
	err := c.do(ctx, http.MethodPost, aliasPath(ns, alias)+"/failover", nil, &out)
	return out.alias(), err
}

// DeleteAlias deletes alias from namespace ns; the alias must not be paired (break the
// pairing or fail over first).
func (c *Client) DeleteAlias(ctx context.Context, ns, alias string) error {
	return c.do(ctx, http.MethodDelete, aliasPath(ns, alias), nil, nil)
}

// ReleaseAlias deletes alias from namespace ns like DeleteAlias, or, once it is deleted, drops
// the reservation of its name in this region, so that any namespace may use the name again.
// It needs the node admin key, or a Manage rule of the namespace the name is reserved for.
func (c *Client) ReleaseAlias(ctx context.Context, ns, alias string) error {
	return c.do(ctx, http.MethodDelete, aliasPath(ns, alias)+"?release=true", nil, nil)
}

// ListAliasRules lists the authorization rules usable through alias: those of namespace ns.
func (c *Client) ListAliasRules(ctx context.Context, ns, alias string) ([]AuthorizationRule, error) {
	var out list[ruleWire]
	if err := c.do(ctx, http.MethodGet, aliasRulesPath(ns, alias), nil, &out); err != nil {
		return nil, err
	}
	rs := make([]AuthorizationRule, len(out.Value))
	for i, w := range out.Value {
		rs[i] = AuthorizationRule{Name: w.Name, Rights: w.Properties.Rights}
	}
	return rs, nil
}

// GetAliasRule returns authorization rule name of alias on namespace ns.
func (c *Client) GetAliasRule(ctx context.Context, ns, alias, name string) (AuthorizationRule, error) {
	var out ruleWire
	err := c.do(ctx, http.MethodGet, aliasRulesPath(ns, alias)+"/"+esc(name), nil, &out)
	return AuthorizationRule{Name: out.Name, Rights: out.Properties.Rights}, err
}

// ListAliasKeys returns the keys of rule name and the alias connection strings made from them.
func (c *Client) ListAliasKeys(ctx context.Context, ns, alias, name string) (AliasKeys, error) {
	var out AliasKeys
	err := c.do(ctx, http.MethodPost, aliasRulesPath(ns, alias)+"/"+esc(name)+"/listKeys", nil, &out)
	return out, err
}

// Polling bounds of WaitAlias.
const (
	waitFirstPoll = 50 * time.Millisecond
	waitMaxPoll   = time.Second
)

// WaitAlias polls namespace ns's side of alias until done holds for it, and returns that state.
// It stops early on an error other than Unavailable (a node restarting is waited for), and
// when ctx ends it returns a Timeout error naming the last state seen.
func (c *Client) WaitAlias(ctx context.Context, ns, alias string, done func(Alias) bool) (Alias, error) {
	delay := waitFirstPoll
	var last Alias
	var lastErr error
	for {
		a, err := c.GetAlias(ctx, ns, alias)
		switch {
		case err == nil:
			if done(a) {
				return a, nil
			}
			last, lastErr = a, nil
		case ctx.Err() != nil:
		case errcode.Is(err, errcode.Unavailable):
			lastErr = err
		default:
			return a, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return last, errcode.New(errcode.Timeout, "gave up waiting for alias %q on namespace %q: %w", alias, ns, lastErr)
			}
			return last, errcode.New(errcode.Timeout,
				"gave up waiting for alias %q on namespace %q: it is still %s with role %s (%v)",
				alias, ns, orNone(last.ProvisioningState), orNone(last.Role), ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, waitMaxPoll)
	}
}

// Provisioned is a WaitAlias condition: the pairing has Succeeded or Failed.
func Provisioned(a Alias) bool {
	return a.ProvisioningState == ProvisioningSucceeded || a.ProvisioningState == ProvisioningFailed
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
