package meta

import (
	"net"
	"net/url"
	"slices"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Member endpoints: where clients and the other nodes reach each member of the region's
// cluster. Every node records its own addresses (its advertised Kafka listeners and its HTTP
// API) once it has joined, with SetMemberEndpoints, so that any node can list every broker in
// Kafka Metadata and forward an HTTP request to a partition's leader: the way Kafka and
// Redpanda brokers register their advertised listeners with the controller. The --cluster
// list carries raft addresses only.

// Endpoints are a member's client-facing addresses; an empty field is a listener the node
// does not serve.
type Endpoints struct {
	Kafka    string `json:"kafka,omitempty"`    // host:port of the plaintext Kafka listener
	KafkaTLS string `json:"kafkaTLS,omitempty"` // host:port of the SASL_SSL Kafka listener
	HTTP     string `json:"http,omitempty"`     // base URL of the HTTP API: http(s)://host:port
	AMQP     string `json:"amqp,omitempty"`     // host:port of the plain AMQP 1.0 listener (Event Hubs SDKs)
}

// SetMemberEndpoints records a member's endpoints, replacing what it recorded before.
type SetMemberEndpoints struct {
	ID        uint64    `json:"id"`
	Endpoints Endpoints `json:"endpoints"`
}

// TypeSetMemberEndpoints is the type of SetMemberEndpoints.
const TypeSetMemberEndpoints CommandType = "SetMemberEndpoints"

// Type implements Command.
func (SetMemberEndpoints) Type() CommandType { return TypeSetMemberEndpoints }

func (c SetMemberEndpoints) check(s *State) error {
	if !slices.ContainsFunc(s.members, func(m Member) bool { return m.ID == c.ID }) {
		return errcode.New(errcode.NotFound,
			"node %d is not in the recorded cluster member list; start it with the region's --cluster list", c.ID)
	}
	return c.Endpoints.validate()
}

func (c SetMemberEndpoints) apply(s *State) {
	s.members = slices.Clone(s.members) // views handed out earlier keep their copy
	i := slices.IndexFunc(s.members, func(m Member) bool { return m.ID == c.ID })
	e := c.Endpoints
	s.members[i].Endpoints = &e
}

func (e Endpoints) validate() error {
	for _, hp := range []struct{ name, v string }{{"Kafka", e.Kafka}, {"Kafka TLS", e.KafkaTLS}, {"AMQP", e.AMQP}} {
		if hp.v == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(hp.v); err != nil || port == "" || len(hp.v) > 300 {
			return errcode.New(errcode.InvalidArgument, "member %s endpoint %q is not host:port", hp.name, hp.v)
		}
	}
	if e.HTTP != "" {
		u, err := url.Parse(e.HTTP)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(e.HTTP) > 300 {
			return errcode.New(errcode.InvalidArgument, "member HTTP endpoint %q is not an http(s)://host:port URL", e.HTTP)
		}
	}
	return nil
}

// MemberEndpoints returns the endpoints member id recorded, and whether it recorded any.
func (s *State) MemberEndpoints(id uint64) (Endpoints, bool) {
	i := slices.IndexFunc(s.members, func(m Member) bool { return m.ID == id })
	if i < 0 || s.members[i].Endpoints == nil {
		return Endpoints{}, false
	}
	return *s.members[i].Endpoints, true
}
