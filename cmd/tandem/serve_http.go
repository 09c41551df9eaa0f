package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/httpapi"
)

// httpConfig holds the flags that bound the HTTP listener and its data plane, and say who
// may read /metrics and which Host names the API answers to.
type httpConfig struct {
	ReadTimeout     time.Duration `yaml:"http-read-timeout"`
	WriteTimeout    time.Duration `yaml:"http-write-timeout"`
	IdleTimeout     time.Duration `yaml:"http-idle-timeout"`
	MaxHeaderBytes  int           `yaml:"http-max-header-bytes"`
	MaxConns        int           `yaml:"http-max-conns"`
	MaxSendEvents   int           `yaml:"http-max-send-events"`
	MaxSendBytes    int64         `yaml:"http-max-send-bytes"`
	MaxReceiveBytes int           `yaml:"http-max-receive-bytes"`
	MaxReceives     int           `yaml:"http-max-receives"`
	ReceiveMemory   int64         `yaml:"receive-memory-budget"`
	AllowedHosts    []string      `yaml:"http-allowed-hosts"`
	MetricsAuth     string        `yaml:"metrics-auth"`
	MetricsAddr     string        `yaml:"metrics-addr"`
}

func addHTTPFlags(f *pflag.FlagSet, c *httpConfig) {
	cl, dl := httpapi.DefaultConnLimits, httpapi.DefaultDataLimits
	f.DurationVar(&c.ReadTimeout, "http-read-timeout", cl.ReadTimeout, "time a client has to send a whole HTTP request, body included")
	f.DurationVar(&c.WriteTimeout, "http-write-timeout", cl.WriteTimeout,
		"time to write an HTTP answer; a long-poll (?wait=) gets its wait on top")
	f.DurationVar(&c.IdleTimeout, "http-idle-timeout", cl.IdleTimeout, "how long an idle keep-alive HTTP connection stays open")
	f.IntVar(&c.MaxHeaderBytes, "http-max-header-bytes", cl.MaxHeaderBytes, "largest HTTP request header")
	f.IntVar(&c.MaxConns, "http-max-conns", cl.MaxConns,
		"HTTP connections open at once; further ones wait in the listen backlog (0: no limit)")
	f.IntVar(&c.MaxSendEvents, "http-max-send-events", dl.MaxSendEvents, "events in one HTTP send request")
	f.Int64Var(&c.MaxSendBytes, "http-max-send-bytes", dl.MaxSendBytes, "body of one HTTP send request, in bytes")
	f.IntVar(&c.MaxReceiveBytes, "http-max-receive-bytes", dl.MaxReceiveBytes,
		"bytes of events (after decompression) one HTTP receive returns; the first event is returned whatever its size")
	f.IntVar(&c.MaxReceives, "http-max-receives", dl.MaxReceives, "HTTP receives decoding events at once; more wait up to 10s for a slot")
	f.Int64Var(&c.ReceiveMemory, "receive-memory-budget", broker.DefaultDecodeMemory,
		"bytes HTTP receives and jobs may hold at once for zstd windows and snappy batches decoded whole; a receive that finds no room within 10s gets 503")
	f.StringSliceVar(&c.AllowedHosts, "http-allowed-hosts", nil,
		"host names the HTTP API answers to besides IP addresses, localhost and the advertised names, when it checks Host (--dev or a loopback listener); * turns the check off")
	f.StringVar(&c.MetricsAuth, "metrics-auth", "auto",
		"who may read /metrics: admin (the admin key, as Authorization: TandemKey <key>), none, or auto (none with --dev, else admin; none on --metrics-addr)")
	f.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the HTTP API listener")
}

func (c httpConfig) connLimits() httpapi.ConnLimits {
	l := httpapi.DefaultConnLimits
	l.ReadTimeout, l.WriteTimeout, l.IdleTimeout = c.ReadTimeout, c.WriteTimeout, c.IdleTimeout
	l.MaxHeaderBytes, l.MaxConns = c.MaxHeaderBytes, c.MaxConns
	return l
}

func (c httpConfig) dataLimits() httpapi.DataLimits {
	return httpapi.DataLimits{MaxSendEvents: c.MaxSendEvents, MaxSendBytes: c.MaxSendBytes,
		MaxReceiveBytes: c.MaxReceiveBytes, MaxReceives: c.MaxReceives}
}

// metricsAccess is who may read /metrics on the API listener (onAPI) or on --metrics-addr.
func (c httpConfig) metricsAccess(onAPI bool) (httpapi.MetricsAccess, error) {
	switch {
	case onAPI && c.MetricsAddr != "":
		return httpapi.MetricsOff, nil
	case c.MetricsAuth == "admin":
		return httpapi.MetricsAdmin, nil
	case c.MetricsAuth == "none" || (c.MetricsAuth == "auto" && !onAPI):
		return httpapi.MetricsOpen, nil
	case c.MetricsAuth == "auto":
		return httpapi.MetricsAuto, nil
	}
	return 0, fmt.Errorf("--metrics-auth=%q: choose admin, none or auto", c.MetricsAuth)
}

// apiOptions fills the HTTP API options these flags set. ln is the API listener; advertised
// are the names the node is told about, which its Host check accepts.
func (c httpConfig) apiOptions(o httpapi.Options, ln net.Listener, advertised ...string) (httpapi.Options, error) {
	m, err := c.metricsAccess(true)
	if err != nil {
		return o, err
	}
	o.Metrics, o.Limits = m, c.dataLimits()
	o.AllowedHosts = httpapi.HostCheck(ln.Addr(), o.Dev, append(advertised, c.AllowedHosts...)...)
	return o, nil
}

// serveMetrics serves /metrics on --metrics-addr, if set, until the returned stop is called.
func (c httpConfig) serveMetrics(g prometheus.Gatherer, b *broker.Broker, logger *slog.Logger) (stop func(), err error) {
	if c.MetricsAddr == "" {
		return func() {}, nil
	}
	m, err := c.metricsAccess(false)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", httpapi.MetricsHandler(g, m, b))
	srv := httpapi.NewHTTPServer(mux, c.connLimits(), logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(httpapi.LimitListener(ln, 64)); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
