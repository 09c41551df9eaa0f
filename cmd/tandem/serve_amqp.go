package main

// The AMQP listeners of `tandem serve`: AMQP 1.0 as the Azure Event Hubs SDKs speak it, in
// plaintext on --amqp-addr (Event Hubs' emulator port 5672: the SDKs' UseDevelopmentEmulator=true
// dials it) and over TLS on --amqps-addr (5671) when the node has a certificate. The protocol is
// internal/amqp's and the Event Hubs nodes ($cbs, $management, hubs and partitions) are
// internal/amqp/eventhubs'; this file only binds, starts and stops them.

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/eventhubs"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// The AMQP listeners' default addresses: Event Hubs' ports.
const (
	defaultAMQPAddr  = "127.0.0.1:5672"
	defaultAMQPSAddr = "127.0.0.1:5671"
)

// amqpConfig are the AMQP flags of `tandem serve`: the listeners and their bounds
// (amqp.Options; 0 takes the engine's default).
type amqpConfig struct {
	Addr             string `yaml:"amqp-addr"`
	TLSAddr          string `yaml:"amqps-addr"`
	DefaultNamespace string `yaml:"amqp-default-namespace"`

	MaxConns      int           `yaml:"amqp-max-connections"`
	MaxConnsPerIP int           `yaml:"amqp-max-connections-per-ip"`
	AuthTimeout   time.Duration `yaml:"amqp-auth-timeout"`
	IdleTimeout   time.Duration `yaml:"amqp-idle-timeout"`
	WriteTimeout  time.Duration `yaml:"amqp-write-timeout"`
	MemoryBudget  int64         `yaml:"amqp-memory-budget"`
}

func addAMQPFlags(f *pflag.FlagSet, c *amqpConfig) {
	f.StringVar(&c.Addr, "amqp-addr", defaultAMQPAddr,
		`plaintext AMQP 1.0 listener address for the Azure Event Hubs SDKs (connection strings with UseDevelopmentEmulator=true); "off" for none`)
	f.StringVar(&c.TLSAddr, "amqps-addr", defaultAMQPSAddr, `AMQP over TLS (AMQPS) listener address when TLS is on; "off" for none`)
	f.StringVar(&c.DefaultNamespace, "amqp-default-namespace", "",
		`namespace of an AMQP connection whose host name names none and whose first token's key belongs to none (with --dev: "`+
			broker.DevNamespace+`")`)
	f.IntVar(&c.MaxConns, "amqp-max-connections", amqp.DefaultMaxConnections,
		"open AMQP connections in total (both listeners); more are closed at accept")
	f.IntVar(&c.MaxConnsPerIP, "amqp-max-connections-per-ip", amqp.DefaultMaxConnectionsPerIP,
		"open AMQP connections from one client address (IPv6: its /64); more are closed at accept")
	f.DurationVar(&c.AuthTimeout, "amqp-auth-timeout", amqp.DefaultAuthTimeout,
		"time an AMQP connection has for its protocol header, SASL and open")
	f.DurationVar(&c.IdleTimeout, "amqp-idle-timeout", amqp.DefaultIdleTimeout,
		"idle-time-out the server advertises in its open: a client silent for this long (not even heartbeats) is disconnected")
	f.DurationVar(&c.WriteTimeout, "amqp-write-timeout", amqp.DefaultWriteTimeout,
		"time to write to an AMQP client; one that stops reading is disconnected")
	f.Int64Var(&c.MemoryBudget, "amqp-memory-budget", amqp.DefaultMemoryBudget,
		"bytes of incoming transfer payloads all AMQP connections may hold at once (a full budget pauses reading)")
}

// options are the engine's bounds the flags give.
func (c amqpConfig) options() amqp.Options {
	return amqp.Options{MaxConnections: c.MaxConns, MaxConnectionsPerIP: c.MaxConnsPerIP, AuthTimeout: c.AuthTimeout,
		IdleTimeout: c.IdleTimeout, WriteTimeout: c.WriteTimeout, MemoryBudget: c.MemoryBudget}
}

// amqpOff reports whether an AMQP listener address turns the listener off.
func amqpOff(addr string) bool { return addr == "" || addr == "off" }

// checkAMQPConfig refuses an AMQPS address without TLS, as --kafka-tls-addr does.
func checkAMQPConfig(cfg serveConfig, tlsOn bool) error {
	if !tlsOn && !amqpOff(cfg.AMQP.TLSAddr) && cfg.AMQP.TLSAddr != defaultAMQPSAddr {
		return fmt.Errorf("--amqps-addr %s needs TLS: give --tls-cert and --tls-key, or --tls-dev (or --amqps-addr off)", cfg.AMQP.TLSAddr)
	}
	return nil
}

// defaultNamespace is the namespace AMQP connections fall back to: the flag, else the dev one.
func (c amqpConfig) defaultNamespace(dev bool) string {
	if c.DefaultNamespace == "" && dev {
		return broker.DevNamespace
	}
	return c.DefaultNamespace
}

// bindAMQP binds the AMQP listeners the flags ask for: plaintext, and with TLS the AMQPS one.
func (l *listeners) bindAMQP(cfg serveConfig, bind func(name, addr string) (net.Listener, error)) error {
	var err error
	if !amqpOff(cfg.AMQP.Addr) {
		if l.amqp, err = bind("amqp", cfg.AMQP.Addr); err != nil {
			return err
		}
	}
	if l.tls != nil && !amqpOff(cfg.AMQP.TLSAddr) {
		if l.amqps, err = bind("amqps", cfg.AMQP.TLSAddr); err != nil {
			return err
		}
	}
	return nil
}

// amqpServer is the node's AMQP server over its AMQP listeners (nil without any): one server,
// so the connection caps are node-wide, serving plain AMQP on one listener and AMQPS on the
// other, with the Event Hubs handler over the broker.
func (l *listeners) amqpServer(b *broker.Broker, cfg serveConfig, logger *slog.Logger, reg prometheus.Registerer) *amqpServer {
	if l.amqp == nil && l.amqps == nil {
		return nil
	}
	h := eventhubs.New(eventhubs.Options{Broker: b, Dev: cfg.Dev, DefaultNamespace: cfg.AMQP.defaultNamespace(cfg.Dev), Logger: logger})
	opts := cfg.AMQP.options()
	opts.Handler, opts.Logger, opts.Registerer = h, logger, reg
	if l.amqps != nil {
		opts.TLS = l.tls.server
	}
	return &amqpServer{s: amqp.NewServer(opts), plain: l.amqp, tls: l.amqps}
}

// amqpServer is the AMQP server and the listeners it serves (either may be nil).
type amqpServer struct {
	s          *amqp.Server
	plain, tls net.Listener
}

// listeners is the number of listeners the server serves, for the size of the error channel.
func (as *amqpServer) listeners() int {
	if as == nil {
		return 0
	}
	n := 0
	for _, ln := range []net.Listener{as.plain, as.tls} {
		if ln != nil {
			n++
		}
	}
	return n
}

// serve serves each listener in a goroutine of its own; each sends Serve's result to errc (nil
// once closed).
func (as *amqpServer) serve(errc chan<- error) {
	if as == nil {
		return
	}
	run := func(ln net.Listener, serve func(net.Listener) error) {
		if ln == nil {
			return
		}
		go func() {
			err := serve(ln)
			if err != nil {
				err = fmt.Errorf("amqp listener %s: %w", ln.Addr(), err)
			}
			errc <- err
		}()
	}
	run(as.plain, as.s.ServePlain)
	run(as.tls, as.s.Serve)
}

// Close closes the listeners (also those not served yet) and every connection, and waits for
// their goroutines.
func (as *amqpServer) Close() {
	if as == nil {
		return
	}
	as.s.Close()
	for _, ln := range []net.Listener{as.plain, as.tls} {
		if ln != nil {
			ln.Close()
		}
	}
}
