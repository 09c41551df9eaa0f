package broker

import (
	"net"
	"net/netip"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// CheckClientAddress applies a namespace's IP filter to a client address (host or host:port),
// as Event Hubs does: with default action Deny, only addresses inside an Allow rule connect;
// a Deny rule refuses its range whatever the default. The node admin key is not subject to it,
// so an operator can always repair the rules.
func (b *Broker) CheckClientAddress(ns, remote string) error {
	rules, ok := b.hubs.Load().rules(ns)
	if !ok {
		_, err := b.Namespace(ns) // the NotFound error naming the namespace
		return err
	}
	if rules.DefaultAction != meta.Deny && len(rules.IPRules) == 0 {
		return nil
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return errcode.New(errcode.Forbidden, "client address %q is not an IP address; namespace %q filters by IP", remote, ns)
	}
	addr = addr.Unmap()
	allowed := rules.DefaultAction != meta.Deny
	for _, r := range rules.IPRules {
		if !ruleContains(r.CIDR, addr) {
			continue
		}
		if r.Action == meta.Deny {
			allowed = false
			break
		}
		allowed = true
	}
	if !allowed {
		return errcode.New(errcode.Forbidden,
			"client address %s is not allowed by the IP filter of namespace %q; add it with an ipRules entry or connect from an allowed network",
			addr, ns)
	}
	return nil
}

func ruleContains(cidr string, addr netip.Addr) bool {
	if !strings.Contains(cidr, "/") {
		a, err := netip.ParseAddr(cidr)
		return err == nil && a.Unmap() == addr
	}
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Contains(addr)
}
