// Package geodr is Event Hubs-style geo-disaster recovery: aliases that pair a primary
// namespace in one region with an empty secondary in another, continuous replication of the
// primary's metadata, failover, fencing of a former primary, and break pairing.
//
// Files: rules.go (the pairing rules, a pure function over facts from both regions),
// manager.go (the alias operations and the peer checks that fence a former primary),
// replicate.go (the secondary's replication runner and the primary's feed), peer.go (the
// region-to-region protocol and its client), endpoint.go (the checks of partner endpoints and
// the operator's list of partner regions), reserve.go (the names of deleted aliases, kept
// in their region for the pairing they belonged to), handler.go (its server), status.go (what GET and
// the metrics show).
//
// The peer region is not trusted beyond what the pairing's link key proves: every
// region-to-region route authenticates before it touches state, a side fences itself only on
// an answer from its recorded partner namespace that the link key authenticates, and partner
// endpoints, which users name, are vetted before the node calls them. A deleted alias's name
// stays reserved in its region, so no other tenant there can take it over (reserve.go).
//
// It builds on internal/broker's metadata primitives (alias configuration, the metadata log,
// ApplyReplicated) and owns no state of its own but the runtime view of each link: durable
// state, including the replication cursor, is in the namespace's alias configuration.
package geodr

import (
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// NamespaceFacts is what the pairing rules need to know about one side of a pairing.
type NamespaceFacts struct {
	Region           string
	Name             string
	Tier             string // basic, standard, premium, dedicated
	Cluster          string // dedicated cluster id, "" when not dedicated
	PrivateEndpoints int
	EventHubs        int
	ConsumerGroups   int    // besides each hub's $Default
	Alias            string // the alias the namespace is already part of, "" if none
}

// compatible lists the secondary tiers each primary tier may pair with (the seed's table).
var compatible = map[string][]string{
	"standard":  {"standard", "dedicated"},
	"premium":   {"premium"},
	"dedicated": {"dedicated"},
}

// CheckPairing applies every pairing rule of an alias to its two namespaces. aliasTaken
// reports whether the alias name is already used in either region. The error names the rule
// that is broken and what to do.
func CheckPairing(alias string, primary, secondary NamespaceFacts, aliasTaken bool) error {
	switch {
	case aliasTaken:
		return errcode.New(errcode.AlreadyExists,
			"alias %q is already in use in region %s or %s; pick another alias name", alias, primary.Region, secondary.Region)
	case strings.EqualFold(primary.Region, secondary.Region):
		return errcode.New(errcode.InvalidArgument,
			"primary %s and secondary %s are both in region %s; a pairing spans two regions", primary.Name, secondary.Name, primary.Region)
	case primary.Alias != "":
		return errcode.New(errcode.Conflict,
			"namespace %s is already in alias %q; a namespace can be in only one pairing", primary.Name, primary.Alias)
	case secondary.Alias != "":
		return errcode.New(errcode.Conflict,
			"namespace %s is already in alias %q; a namespace can be in only one pairing", secondary.Name, secondary.Alias)
	}
	if err := checkTiers(primary, secondary); err != nil {
		return err
	}
	if primary.Tier == "dedicated" && secondary.Tier == "dedicated" && primary.Cluster != "" && primary.Cluster == secondary.Cluster {
		return errcode.New(errcode.InvalidArgument,
			"namespaces %s and %s are on the same dedicated cluster %s; pair namespaces on different clusters",
			primary.Name, secondary.Name, primary.Cluster)
	}
	if secondary.EventHubs > 0 || secondary.ConsumerGroups > 0 {
		return errcode.New(errcode.Conflict,
			"secondary namespace %s has %d event hubs and %d consumer groups; a pairing needs a new, empty secondary",
			secondary.Name, secondary.EventHubs, secondary.ConsumerGroups)
	}
	if primary.PrivateEndpoints > 0 && secondary.PrivateEndpoints == 0 {
		return errcode.New(errcode.InvalidArgument,
			"primary %s has %d private endpoints and secondary %s has none; give the secondary a private endpoint first",
			primary.Name, primary.PrivateEndpoints, secondary.Name)
	}
	return nil
}

func checkTiers(primary, secondary NamespaceFacts) error {
	allowed, ok := compatible[primary.Tier]
	if !ok {
		return errcode.New(errcode.InvalidArgument,
			"primary %s is on the %s tier; geo-disaster recovery needs standard, premium or dedicated", primary.Name, primary.Tier)
	}
	for _, t := range allowed {
		if t == secondary.Tier {
			return nil
		}
	}
	return errcode.New(errcode.InvalidArgument,
		"a %s primary cannot pair with a %s secondary (%s); a %s primary pairs with %s",
		primary.Tier, secondary.Tier, secondary.Name, primary.Tier, strings.Join(allowed, " or "))
}
