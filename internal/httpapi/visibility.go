package httpapi

import (
	"net/http"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// What entity metadata a caller sees. Event Hubs lets a Send or Listen credential read what it
// needs to use an event hub (its partitions; the runtime information of the AMQP $management
// node), but reading the configuration of a namespace or listing its consumer groups is
// management: the Manage claim with a SAS, the Reader role with Azure RBAC. Tandem follows
// that: every right may GET a namespace and an event hub, but the namespace's network rules
// and private endpoints and the hub's consumer group names are shown only to Manage; a
// consumer group is read with Listen (the receiving side names its group) or Manage.

// canManage reports whether c's caller holds Manage on c's hub, or on the namespace when
// the request names no hub.
func (c *call) canManage() bool { return c.who.admin || c.who.Can(broker.RightManage, c.hub) }

// namespaceVisible is namespaceOut of n as c's caller may see it.
func namespaceVisible(n broker.NamespaceInfo, c *call) namespaceJSON {
	out := namespaceOut(n)
	if !c.canManage() {
		out.Properties.NetworkRuleSet = nil
		out.Properties.PrivateEndpoints = nil
	}
	return out
}

// getHubVisible answers GET on an event hub; consumer group names only with Manage.
func (s *Server) getHubVisible(w http.ResponseWriter, r *http.Request, c *call) error {
	h, err := s.b.Hub(c.ns, c.hub)
	if err != nil {
		return err
	}
	out := hubOut(h)
	out.Properties.Partitions = partitionsOut(s.b.HubReplicas(h))
	if !c.canManage() {
		out.Properties.ConsumerGroups = nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
