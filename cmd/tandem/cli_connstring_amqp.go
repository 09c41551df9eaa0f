package main

import (
	"context"
	"net"
	"net/url"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// amqpStatus is what `connection-string --amqp` needs of the client: the node's endpoints.
type amqpStatus interface {
	ClusterStatus(ctx context.Context) (client.ClusterStatus, error)
}

// amqpConnectionString turns a namespace connection string into the development-emulator
// form the Azure Event Hubs SDKs dial over plain AMQP:
//
//	Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…];UseDevelopmentEmulator=true
//
// HOST:PORT is the AMQP listener GET /cluster reports for the node the CLI talks to (or any
// node of its region that has one). server is the CLI's --server URL: a listener on an
// unspecified address (0.0.0.0, ::) is reached at that URL's host.
func amqpConnectionString(ctx context.Context, c amqpStatus, server, cs string) (string, error) {
	st, err := c.ClusterStatus(ctx)
	if err != nil {
		return "", errcode.New(errcode.Unavailable, "reading the node's AMQP endpoint from GET /cluster: %w", err)
	}
	addr := ""
	for _, n := range st.Nodes {
		if n.AMQP != "" && (addr == "" || n.ID == st.NodeID) {
			addr = n.AMQP
		}
	}
	if addr == "" {
		return "", errcode.New(errcode.Unavailable,
			"the Tandem node at %s serves no AMQP listener, so there is no AMQP connection string; start it with 'tandem serve --amqp-addr HOST:PORT' (or leave out --amqp to print the Kafka/HTTP string)", server)
	}
	addr = reachableAddr(addr, server)
	parsed, err := auth.ParseConnectionString(cs)
	if err != nil {
		return "", err
	}
	parsed.Endpoint = "sb://" + addr + "/"
	parsed.UseDevelopmentEmulator = true
	return parsed.String(), nil
}

// reachableAddr replaces an unspecified listener host (0.0.0.0, ::, "") with the host of the
// server URL the CLI reached the node at.
func reachableAddr(addr, server string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	u, err := url.Parse(server)
	if err != nil || u.Hostname() == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return net.JoinHostPort(u.Hostname(), port)
}
