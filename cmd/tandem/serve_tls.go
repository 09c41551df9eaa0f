package main

// The listeners of `tandem serve` and their TLS: a plaintext Kafka listener (--kafka-addr), a
// TLS one for SASL_SSL clients (--kafka-tls-addr, Event Hubs' port 9093), and the HTTP API,
// which serves HTTPS instead of HTTP when TLS is configured. One API listener rather than an
// HTTP one beside an HTTPS one: the admin key and SAS tokens travel on every API call, so a
// node with a certificate does not also take them in the clear, and the API (with /metrics and
// the geo-DR routes) has one address to advertise.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/kafka"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// defaultKafkaTLSAddr is where the TLS Kafka listener binds when TLS is configured.
const defaultKafkaTLSAddr = "127.0.0.1:9093"

// addTLSFlags adds the TLS flags of `tandem serve`.
func addTLSFlags(f *pflag.FlagSet, cfg *serveConfig) {
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate chain of this node (node certificate first); turns on TLS with --tls-key")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&cfg.TLSDev, "tls-dev", false,
		"turn on TLS with a local CA and node certificate created in <data>/tls (reused on restart); clients trust <data>/tls/ca.pem")
	f.StringVar(&cfg.TLSCA, "tls-ca", "",
		"PEM CA certificates the geo-DR client trusts for partner regions' https endpoints (default: the system roots; with --tls-dev, <data>/tls/ca.pem)")
	f.StringVar(&cfg.KafkaTLSAddr, "kafka-tls-addr", defaultKafkaTLSAddr,
		`TLS (SASL_SSL) Kafka listener address when TLS is on; "" for none`)
}

// nodeTLS is a node's TLS set-up; nil when TLS is off.
type nodeTLS struct {
	server *tls.Config  // presented by the Kafka TLS listener and the HTTPS API
	dev    *tlsconf.Dev // with --tls-dev
	caFile string       // what clients trust, when known (--tls-dev)
}

// checkListenerConfig refuses flag combinations that leave a listener ambiguous or none.
func checkListenerConfig(cfg serveConfig) error {
	tlsOn := cfg.TLSDev || cfg.TLSCert != "" || cfg.TLSKey != ""
	switch {
	case cfg.TLSDev && (cfg.TLSCert != "" || cfg.TLSKey != ""):
		return errors.New("--tls-dev creates its own certificate; give either --tls-dev or --tls-cert with --tls-key")
	case !cfg.TLSDev && (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return errors.New("TLS needs both --tls-cert and --tls-key (PEM files); give both, or --tls-dev for a local CA")
	case !tlsOn && cfg.KafkaTLSAddr != defaultKafkaTLSAddr && cfg.KafkaTLSAddr != "":
		return fmt.Errorf("--kafka-tls-addr %s needs TLS: give --tls-cert and --tls-key, or --tls-dev", cfg.KafkaTLSAddr)
	case cfg.KafkaAddr == "" && (!tlsOn || cfg.KafkaTLSAddr == ""):
		return errors.New(`--kafka-addr is "" and there is no TLS Kafka listener; give a Kafka listener address, ` +
			"or turn on TLS (--tls-cert and --tls-key, or --tls-dev) for --kafka-tls-addr")
	}
	return checkAMQPConfig(cfg, tlsOn)
}

// loadNodeTLS builds the node's TLS from --tls-cert/--tls-key or --tls-dev; nil when off.
func loadNodeTLS(cfg serveConfig) (*nodeTLS, error) {
	if cfg.TLSCert != "" {
		server, err := tlsconf.Server(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		return &nodeTLS{server: server, caFile: cfg.TLSCA}, nil
	}
	if !cfg.TLSDev {
		return nil, nil
	}
	hosts := []string{cfg.AdvertiseHost}
	for _, a := range []string{cfg.KafkaAddr, cfg.KafkaTLSAddr, cfg.HTTPAddr, cfg.AMQP.TLSAddr} {
		if h, _, err := net.SplitHostPort(a); err == nil {
			hosts = append(hosts, h)
		}
	}
	if u, err := url.Parse(cfg.AdvertiseHTTP); err == nil && cfg.AdvertiseHTTP != "" {
		hosts = append(hosts, u.Hostname())
	}
	dev, err := tlsconf.EnsureDev(filepath.Join(cfg.Data, "tls"), tlsconf.DevHosts(hosts...), time.Now())
	if err != nil {
		return nil, fmt.Errorf("--tls-dev: %w", err)
	}
	server, err := tlsconf.Server(dev.CertFile, dev.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-dev: %w", err)
	}
	return &nodeTLS{server: server, dev: dev, caFile: dev.CAFile}, nil
}

// listeners are a node's bound sockets: the plaintext and TLS Kafka listeners (either may be
// nil), the API's, and the plaintext and TLS AMQP listeners (either may be nil).
type listeners struct {
	kafka, kafkaTLS, http net.Listener
	amqp, amqps           net.Listener
	tls                   *nodeTLS
}

// openListeners checks the listener flags, loads TLS and binds every listener; on error it
// closes what it bound.
func openListeners(cfg serveConfig) (*listeners, error) {
	if err := checkListenerConfig(cfg); err != nil {
		return nil, err
	}
	nt, err := loadNodeTLS(cfg)
	if err != nil {
		return nil, err
	}
	l := &listeners{tls: nt}
	bind := func(name, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("%s listener: %w", name, err)
		}
		return ln, nil
	}
	if cfg.KafkaAddr != "" {
		if l.kafka, err = bind("kafka", cfg.KafkaAddr); err != nil {
			return nil, err
		}
	}
	if nt != nil && cfg.KafkaTLSAddr != "" {
		if l.kafkaTLS, err = bind("kafka TLS", cfg.KafkaTLSAddr); err != nil {
			return nil, err
		}
	}
	if l.http, err = bind("http", cfg.HTTPAddr); err != nil {
		return nil, err
	}
	if err := l.bindAMQP(cfg, bind); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.kafka, l.kafkaTLS, l.http, l.amqp, l.amqps} {
		if ln != nil {
			ln.Close()
		}
	}
}

// kafkaServers is the node's Kafka server over its listeners: the plaintext one, the TLS
// one, or both. Each connection is told the port of the listener it came in on (a SASL_SSL
// client is sent back to the TLS port, a plaintext one to the plaintext port); the connection
// caps, the memory budget and the metrics are the server's, so they are node-wide.
func (l *listeners) kafkaServers(opts kafka.Options) kafkaServers {
	var s *kafka.Server
	if l.kafka != nil {
		s = kafka.New(l.kafka, opts)
	}
	if l.kafkaTLS != nil {
		tln := tls.NewListener(l.kafkaTLS, l.tls.server)
		if s == nil {
			s = kafka.New(tln, opts)
		} else {
			s.AddListener(tln) // one server: the connection caps and memory budget are node-wide
		}
	}
	return kafkaServers{s}
}

// kafkaServers are a node's Kafka servers, one per listener.
type kafkaServers []*kafka.Server

// serve runs every server in a goroutine of its own; each sends Serve's result to errc.
func (ks kafkaServers) serve(errc chan<- error) {
	for _, s := range ks {
		go func() { errc <- s.Serve() }()
	}
}

// Close closes every server and waits for its connections.
func (ks kafkaServers) Close() {
	for _, s := range ks {
		s.Close()
	}
}

// geoKafka is the Kafka listener the partner region sends this region's alias clients to after
// a failover: the TLS one when there is one, so a SASL_SSL client is never sent to a plaintext
// port with its password.
func (l *listeners) geoKafka(cfg serveConfig) string {
	if l.kafkaTLS != nil {
		return advertised(cfg, l.kafkaTLS.Addr())
	}
	return advertised(cfg, l.kafka.Addr())
}

// scheme is the API's URL scheme.
func (l *listeners) scheme() string {
	if l.tls != nil {
		return "https"
	}
	return "http"
}

// peerTLS is the TLS of geo-DR calls to https partner regions: it trusts --tls-ca (or the dev
// CA), else the system roots.
func peerTLS(cfg serveConfig, nt *nodeTLS) (*tls.Config, error) {
	ca := cfg.TLSCA
	if ca == "" && nt != nil {
		ca = nt.caFile
	}
	tc, err := tlsconf.Client(ca)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	return tc, nil
}

// serveHTTP serves the API on ln (the HTTP listener, maybe wrapped): HTTPS when TLS is on.
func (l *listeners) serveHTTP(hs *http.Server, ln net.Listener) error {
	if l.tls == nil {
		return hs.Serve(ln)
	}
	hs.TLSConfig = l.tls.server
	return hs.ServeTLS(ln, "", "")
}

// addr is a listener's address for the ready line, "off" for none.
func addr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// readyLine is the line scripts wait for (internal/nodeproc.ParseReady reads it). Without TLS
// it is
//
//	tandem ready region=R kafka=HOST:PORT http=HOST:PORT amqp=HOST:PORT
//
// and with TLS it goes on with " amqps=HOST:PORT kafka-tls=HOST:PORT api=https" (a listener
// turned off is "off").
func (l *listeners) readyLine(region string) string {
	line := fmt.Sprintf("tandem ready region=%s kafka=%s http=%s amqp=%s", region, addr(l.kafka), addr(l.http), addr(l.amqp))
	if l.tls != nil {
		line += fmt.Sprintf(" amqps=%s kafka-tls=%s api=https", addr(l.amqps), addr(l.kafkaTLS))
	}
	return line
}

// printDevTrust tells how clients trust the dev CA.
func (l *listeners) printDevTrust(w io.Writer, cfg serveConfig) {
	if l.tls == nil || l.tls.dev == nil {
		return
	}
	d := l.tls.dev
	state := "reused"
	if d.CreatedCA {
		state = "created now"
	}
	fmt.Fprintf(w, "tandem: TLS with the dev CA %s (%s); node certificate for %s, valid until %s\n",
		d.CAFile, state, strings.Join(d.Hosts, ", "), d.NotAfter.Format(time.DateOnly))
	ca := shellQuote(d.CAFile)
	if l.kafkaTLS != nil {
		fmt.Fprintf(w, "tandem: kcat:     kcat -b %s -X security.protocol=SASL_SSL -X ssl.ca.location=%s -X sasl.mechanisms=PLAIN "+
			"-X 'sasl.username=$ConnectionString' -X 'sasl.password=<connection string>' -L\n", advertised(cfg, l.kafkaTLS.Addr()), ca)
		fmt.Fprintf(w, "tandem: franz-go: kgo.DialTLSConfig(&tls.Config{RootCAs: pool}) with pool := x509.NewCertPool(); "+
			"pool.AppendCertsFromPEM(<the bytes of %s>)\n", d.CAFile)
	}
	fmt.Fprintf(w, "tandem: CLI:      tandem --server https://%s --ca %s …  (or --data %s)\n",
		advertised(cfg, l.http.Addr()), ca, shellQuote(cfg.Data))
}
