package broker

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// What the AMQP front end (internal/amqp/eventhubs) needs of the broker beyond what the Kafka
// and HTTP front ends use: token checks that do not take the namespace from the token's host
// (AMQP clients sign the address they dial, which may be localhost), appends of records it
// built and sized itself, and reads of records as stored.

// AMQPMessageHeader is the record header in which the AMQP front end keeps the sections of an
// AMQP message that have no Kafka or HTTP equivalent (annotations, properties, footer), so
// that an event sent over AMQP is delivered over AMQP unchanged. The HTTP API does not show it
// as a property; Kafka consumers see it as a header.
const AMQPMessageHeader = "tandem.amqp.message"

// ResolveEndpoint finds what a client-supplied name (an AMQP open.hostname's first label, a
// connection string's endpoint) names: a namespace of this region, or a geo-DR alias held
// here, which resolves to its local namespace. The error is Unauthorized, as for a connection
// string naming an unknown namespace.
func (b *Broker) ResolveEndpoint(name string) (ns, alias string, err error) {
	return b.resolveEndpoint(name)
}

// AuthenticateToken checks an Event Hubs SAS token presented on a connection that belongs to
// namespace or alias name, for entity (an AMQP audience's path such as
// "hub/ConsumerGroups/$default/Partitions/0", or "" for the namespace). Unlike AuthenticateSAS,
// the token's host need not name the namespace: the Azure SDKs sign the address they dial
// (amqp://localhost:5672/hub with an emulator connection string). The token's resource path
// must cover entity; the rule is looked up on the namespace, then on the entity's event hub.
func (b *Broker) AuthenticateToken(name, entity, token string) (Principal, error) {
	tok, err := auth.ParseSASToken(token)
	if err != nil {
		return Principal{}, err
	}
	ns, alias, err := b.resolveEndpoint(name)
	if err != nil {
		return Principal{}, err
	}
	host := "tandem"
	if u, err := url.Parse(tok.Resource); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	} else if !strings.Contains(tok.Resource, "://") {
		host, _, _ = strings.Cut(tok.Resource, "/")
	}
	entity = strings.Trim(entity, "/")
	if entity != "" && !tok.Covers("sb://"+host+"/"+entity) {
		return Principal{}, errcode.New(errcode.Forbidden, "SAS token covers %q, not %q", tok.Resource, entity)
	}
	tokHub := tokenPathHub(tok.Resource)
	entityHub, _, _ := strings.Cut(entity, "/")
	return b.tokenPrincipal(ns, alias, entityHub, tokHub, tok)
}

// tokenPathHub is the event hub a SAS resource names: the first segment of its path.
func tokenPathHub(resource string) string {
	rest := resource
	if _, after, ok := strings.Cut(resource, "://"); ok {
		rest = after
	} else if !strings.Contains(resource, "/") {
		return ""
	}
	_, p, _ := strings.Cut(rest, "/")
	hub, _, _ := strings.Cut(strings.Trim(p, "/"), "/")
	return hub
}

// TokenNamespaces lists the namespaces with a rule named by the token's skn whose key
// verifies the token's signature: how an AMQP connection that names no namespace is bound to
// one by its first token. Keys are random per namespace, so there is one unless the same
// key was given to several.
func (b *Broker) TokenNamespaces(token string) []string {
	tok, err := auth.ParseSASToken(token)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range b.Namespaces() {
		pols, err := b.Policies(n.Name, "")
		if err != nil {
			continue
		}
		for _, h := range b.Hubs(n.Name) {
			if hp, err := b.Policies(n.Name, h.Name); err == nil {
				pols = append(pols, hp...)
			}
		}
		for _, pol := range pols {
			if pol.Name == tok.KeyName && (tok.Verify(pol.PrimaryKey, b.now()) == nil || tok.Verify(pol.SecondaryKey, b.now()) == nil) {
				out = append(out, n.Name)
				break
			}
		}
	}
	return out
}

// AuthenticateKey checks a shared access key of rule keyName on namespace or alias name (or
// on its event hub hub): SASL PLAIN with the key name as user and the key as password.
func (b *Broker) AuthenticateKey(name, hub, keyName, key string) (Principal, error) {
	ns, alias, err := b.resolveEndpoint(name)
	if err != nil {
		return Principal{}, err
	}
	if hub, err = b.scopeHub(ns, hub); err != nil {
		return Principal{}, err
	}
	pol, hubScope, err := b.findPolicy(ns, hub, keyName)
	if err != nil {
		return Principal{}, err
	}
	if !keyMatches(pol, key) {
		return Principal{}, errcode.New(errcode.Unauthorized,
			"the key does not match rule %q of namespace %q; copy a current key with 'tandem connection-string %s'", pol.Name, ns, ns)
	}
	p := principalFor(ns, hubScope, pol)
	p.Alias = alias
	p.Grant = b.newGrant(ns, hubScope, pol, key, time.Time{})
	return p, nil
}

// WritableHub is the hub as the write path sees it: ReadOnly (naming the alias) for a paired
// geo-DR secondary, NotFound for a missing hub.
func (b *Broker) WritableHub(ns, hub string) (HubInfo, error) { return b.writableHub(ns, hub) }

// AppendRecords writes records to one partition as one batch stamped with the append time and
// returns once they are durable. The caller sized each event itself (the AMQP front end
// bounds whole messages by the hub's max event size; the records it builds repeat a message's
// application properties as headers, so they are not checked against it again).
func (b *Broker) AppendRecords(ctx context.Context, ns, hub string, id int32, recs []batch.Record) (AppendResult, error) {
	h, err := b.writableHub(ns, hub)
	if err != nil {
		return AppendResult{}, err
	}
	if err := checkPartitionID(h, id); err != nil {
		return AppendResult{}, err
	}
	if len(recs) == 0 {
		return AppendResult{}, errcode.New(errcode.InvalidArgument, "no events to append to %s/%s partition %d", ns, hub, id)
	}
	raw := batch.Build(recs, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: b.opts.Now().UnixMilli()})
	var res AppendResult
	var p *Partition
	if b.cl != nil { // from any replica, leader or not (amqp_cluster.go)
		res, p, err = b.appendAnyReplica(ctx, h, id, raw, len(recs))
	} else {
		res, p, err = b.appendValidated(h, id, [][]byte{raw}, len(recs), len(raw))
	}
	if err != nil {
		return AppendResult{}, err
	}
	if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
		return AppendResult{}, err
	}
	return res, nil
}
