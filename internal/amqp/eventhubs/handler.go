// Package eventhubs gives AMQP links their Event Hubs meaning: it implements amqp.Handler on
// top of internal/broker. It owns the Event Hubs nodes ($cbs put-token, $management READ, the
// sender links to a hub or one of its partitions, the receiver links on a consumer group's
// partition), the claims of each connection, the node's receiver epochs, the selector
// filters, the partition-key hash (lookup3) and the mapping between AMQP messages and the
// broker's records. It owns no protocol state (internal/amqp does) and no data (the broker
// does): every event goes through the broker's append and read paths, with the same
// authorization rules as Kafka and HTTP.
package eventhubs

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// DefaultMaxReceiversPerPartition is Event Hubs' quota of receivers without an epoch per
// consumer group and partition.
const DefaultMaxReceiversPerPartition = 5

// Options configure a Handler.
type Options struct {
	Broker *broker.Broker
	// Dev lets connections without a token act as the broker's anonymous dev principal
	// (namespace "default"), and accepts tokens signed with the Event Hubs emulator's
	// placeholder key (rule RootManageSharedAccessKey, key SAS_KEY_VALUE) as that principal.
	// The broker must run in dev mode too.
	Dev bool
	// DefaultNamespace is the namespace of a connection whose open.hostname names none and
	// whose first token does not bind it to one (--amqp-default-namespace).
	DefaultNamespace string
	Logger           *slog.Logger
	Now              func() time.Time
	// MaxReceiversPerPartition bounds receivers without an epoch per consumer group and
	// partition (default 5, as Event Hubs).
	MaxReceiversPerPartition int
}

// Handler is the Event Hubs meaning of AMQP links for one broker node.
type Handler struct {
	opts   Options
	b      *broker.Broker
	log    *slog.Logger
	epochs *epochRegistry
	rr     atomic.Uint32 // round-robin over partitions for sends without key or partition
	// redirects turns over the partner region's AMQP listeners for alias connections.
	redirects atomic.Uint32
}

var _ amqp.Handler = (*Handler)(nil)

// New returns a Handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxReceiversPerPartition <= 0 {
		opts.MaxReceiversPerPartition = DefaultMaxReceiversPerPartition
	}
	return &Handler{opts: opts, b: opts.Broker, log: opts.Logger.With("component", "amqp-eventhubs"),
		epochs: newEpochRegistry(opts.MaxReceiversPerPartition)}
}

// Connect starts a connection's state: its namespace, when open.hostname names one (or a
// geo-DR alias held here), and its principal when it authenticated with SASL PLAIN. A
// connection that names an alias active in the partner region is refused with
// amqp:connection:redirect to that region's AMQP listener (alias.go).
func (h *Handler) Connect(ctx context.Context, info amqp.ConnInfo) (amqp.Conn, *frames.Error) {
	c := &conn{h: h, info: info}
	if info.RemoteAddr != nil {
		c.remote = info.RemoteAddr.String()
	}
	if host := hostNamespace(info.Hostname); host != "" {
		for _, name := range []string{host, firstLabel(host)} {
			if ns, alias, err := h.b.ResolveEndpoint(name); err == nil {
				c.mu.ns, c.mu.alias, c.mu.name, c.mu.bound = ns, alias, name, true
				break
			}
		}
	}
	if c.mu.alias != "" {
		if ferr := h.aliasRedirect(c.mu.alias, info.Hostname); ferr != nil {
			h.log.Debug("redirect", "remote", c.remote, "hostname", info.Hostname, "err", ferr)
			return nil, ferr
		}
	}
	if info.SASLMechanism == "PLAIN" {
		if err := c.plain(info.SASLUser, info.SASLPassword); err != nil {
			return nil, amqpError(err)
		}
	}
	h.log.Debug("connection", "remote", c.remote, "hostname", info.Hostname, "sasl", info.SASLMechanism, "namespace", c.mu.ns)
	return c, nil
}

func firstLabel(host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	l, _, _ := strings.Cut(host, ".")
	return l
}
