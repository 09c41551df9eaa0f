package main

// `tandem dev --tls`: both regions serve Kafka over TLS only (SASL_SSL) and the API over
// HTTPS, with one dev CA in <dir>/tls that signed one node certificate both regions present
// (they share 127.0.0.1), so geo-DR between them verifies and one ca.pem serves every client.

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// devTLS is the dev CA and node certificate the regions of tandem dev --tls use.
type devTLS struct {
	caFile, certFile, keyFile string
}

// ensureDevTLS creates or reuses <dir>/tls and says which.
func ensureDevTLS(dir string, stderr io.Writer) (*devTLS, error) {
	d, err := tlsconf.EnsureDev(filepath.Join(dir, "tls"), tlsconf.DevHosts(), time.Now())
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "tandem dev --tls: %v", err)
	}
	state := "reusing"
	if d.CreatedCA {
		state = "created"
	}
	fmt.Fprintf(stderr, "tandem dev: %s the dev CA %s; clients trust it to reach both regions over TLS\n", state, d.CAFile)
	return &devTLS{caFile: d.CAFile, certFile: d.CertFile, keyFile: d.KeyFile}, nil
}

// listen are a region's listen addresses: with TLS, no plaintext Kafka listener and the Kafka
// port on the TLS listener, and no AMQPS listener (AMQP stays plaintext, as the SDKs'
// UseDevelopmentEmulator=true dials it; CBS sends signed tokens, never the key). The AMQP
// address is left to the caller.
func (t *devTLS) listen(kafkaAddr, httpAddr string) nodeproc.Listen {
	if t == nil {
		return nodeproc.Listen{Kafka: kafkaAddr, HTTP: httpAddr}
	}
	return nodeproc.Listen{Kafka: "off", KafkaTLS: kafkaAddr, HTTP: httpAddr, AMQPS: "off"}
}

// serveArgs are the TLS arguments of a region's `serve`.
func (t *devTLS) serveArgs() []string {
	if t == nil {
		return nil
	}
	return []string{"--tls-cert", t.certFile, "--tls-key", t.keyFile, "--tls-ca", t.caFile}
}

func (t *devTLS) scheme() string {
	if t == nil {
		return "http"
	}
	return "https"
}

// ca is the CA file clients trust, "" without TLS.
func (t *devTLS) ca() string {
	if t == nil {
		return ""
	}
	return t.caFile
}

// securityProtocol is librdkafka's security.protocol of the regions' Kafka listeners.
func (t *devTLS) securityProtocol() string {
	if t == nil {
		return "SASL_PLAINTEXT"
	}
	return "SASL_SSL"
}

// kcatTLSArgs are kcat's -X arguments for the CA, "" without TLS.
func (t *devTLS) kcatTLSArgs() string {
	if t == nil {
		return ""
	}
	return " -X ssl.ca.location=" + shellQuote(t.caFile)
}

// cliCAArgs are the CLI's arguments for the CA, "" without TLS.
func (t *devTLS) cliCAArgs() string {
	if t == nil {
		return ""
	}
	return " --ca " + shellQuote(t.caFile)
}

// client is a client of the region's API, trusting the dev CA with TLS.
func (t *devTLS) client(httpAddr, adminKey string) (*client.Client, error) {
	opts := []client.Option{client.WithAdminKey(adminKey)}
	if t != nil {
		tc, err := tlsconf.Client(t.caFile)
		if err != nil {
			return nil, errcode.New(errcode.InvalidArgument, "tandem dev --tls: %v", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: tr}))
	}
	return client.New(t.scheme()+"://"+httpAddr, opts...)
}
