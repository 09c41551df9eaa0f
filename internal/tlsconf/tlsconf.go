// Package tlsconf builds the TLS configurations of a Tandem node and of its clients from PEM
// files: the server certificate and key an operator gives (--tls-cert, --tls-key), the CA
// certificates a client trusts (--tls-ca for the geo-DR peer client, --ca for the CLI), and,
// for development, a local CA and a node certificate it creates in a directory and reuses on
// every later start (EnsureDev).
//
// It uses the standard library's crypto/tls and crypto/x509 only, and every configuration it
// returns refuses TLS versions below 1.2. It never turns certificate verification off: a
// client either trusts the CA file it is given or the system's roots.
//
// It owns no listener and no socket: cmd/tandem wraps its listeners with tls.NewListener and
// its HTTP clients' transports with the configurations built here.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MinVersion is the oldest TLS version a Tandem server or client accepts.
const MinVersion = tls.VersionTLS12

// Server returns the configuration of a TLS server that presents the certificate chain in
// certFile (PEM, the node certificate first) with the private key in keyFile.
func Server(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("a TLS server needs both a certificate file and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}, nil
}

// Client returns the configuration of a TLS client that trusts exactly the CA certificates in
// caFile, or the system's roots when caFile is "".
func Client(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: MinVersion}
	if caFile == "" {
		return cfg, nil
	}
	pool, err := CAPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// CAPool reads the PEM certificates in file into a pool. A file without a certificate is an
// error, so a wrong path or a key file given by mistake is caught at start.
func CAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: %w", file, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate (BEGIN CERTIFICATE); give the CA's certificate, not its key", file)
	}
	return pool, nil
}
