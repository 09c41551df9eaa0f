package eventhubs

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Geo-DR aliases over AMQP. Event Hubs moves an alias by flipping a DNS CNAME; an AMQP client
// that names the alias by host (its connection string's Endpoint=sb://ALIAS…, resolved by DNS
// or a hosts file, or dialled through the SDKs' CustomEndpoint option) reaches whichever region
// its address leads to. A region where the alias is active serves it as the namespace that
// holds it. A region where it is not refuses the connection with the standard
// amqp:connection:redirect naming the active region's AMQP listener (meta.Peer.AMQP); the
// engine follows that redirect for the client (internal/amqp's front door), because no Event
// Hubs SDK does. After a failover, connections to the region that lost the alias end with
// amqp:connection:forced at their next message or receive, and the SDKs reconnect.

// Conditions of the alias paths.
const (
	condRedirect   codec.Symbol = "amqp:connection:redirect"
	condConnForced codec.Symbol = "amqp:connection:forced"
)

// aliasRecheck is how often a receiver of an alias connection parked on an empty partition
// checks that the alias is still active here.
const aliasRecheck = time.Second

// aliasRedirect returns the redirect for a connection that named alias (held here) when the
// alias is active in the partner region and that region advertises an AMQP listener; nil when
// the connection is served here (the alias is active here, or where it is active is unknown:
// the link attaches then fail with the broker's AliasNotActive error).
func (h *Handler) aliasRedirect(alias, hostname string) *frames.Error {
	_, cfg, ok := h.b.AliasHolder(alias)
	if !ok || cfg.Active() {
		return nil
	}
	peer := cfg.ActivePeer()
	if peer == nil {
		return nil
	}
	// A cluster region records every node's listener: successive connections are sent to
	// them in turn, so a node that is down is not the only way in.
	addrs := slices.Clone(peer.AMQP)
	for _, n := range peer.Nodes {
		if n.AMQP != "" && !slices.Contains(addrs, n.AMQP) {
			addrs = append(addrs, n.AMQP)
		}
	}
	first := int(h.redirects.Add(1))
	for i := range addrs {
		addr := addrs[(first+i)%len(addrs)]
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil {
			continue
		}
		hostname = hostNamespace(hostname)
		if hostname == "" {
			hostname = alias
		}
		return &frames.Error{
			Condition: condRedirect,
			Description: "geo-DR alias " + strconv.Quote(cfg.Name) + " is active in region " + peer.Region +
				" (namespace " + peer.Namespace + "), whose AMQP listener is " + addr + "; connect there",
			Info: &codec.Map{Pairs: []codec.Pair{
				{Key: codec.Symbol("hostname"), Value: hostname},
				{Key: codec.Symbol("network-host"), Value: host},
				{Key: codec.Symbol("port"), Value: uint16(n)},
			}},
		}
	}
	return nil
}

// aliasMoved turns the broker's AliasNotActive error (the connection's alias moved to the
// other region since it connected) into amqp:connection:forced, with which the engine closes
// the whole connection: the SDKs then reconnect, and the new connection is redirected to the
// region that holds the alias now. Other errors are returned unchanged.
func aliasMoved(err error) error {
	if !errcode.Is(err, errcode.AliasNotActive) {
		return err
	}
	return &frames.Error{Condition: condConnForced, Description: err.Error() + " (this connection is closed; reconnect)"}
}

// forcedError is err when it is aliasMoved's amqp:connection:forced, else nil.
func forcedError(err error) *frames.Error {
	var fe *frames.Error
	if errors.As(err, &fe) && fe.Condition == condConnForced {
		return fe
	}
	return nil
}

// aliasTick is a channel that fires after aliasRecheck for a connection that named an alias,
// so a receiver waiting for events notices a failover; nil (never fires) for other connections.
func (c *conn) aliasTick() <-chan time.Time {
	c.mu.Lock()
	alias := c.mu.alias
	c.mu.Unlock()
	if alias == "" {
		return nil
	}
	return time.After(aliasRecheck)
}
