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
	"sync"
)

// MinVersion is the oldest TLS version a Tandem server or client accepts.
const MinVersion = tls.VersionTLS12

// Server returns the configuration of a TLS server that presents the certificate chain in
// certFile (PEM, the node certificate first) with the private key in keyFile. The files are
// read again on the first handshake after either changes, so a renewed certificate is served
// without a restart; until the new pair loads (both files written, key matching certificate)
// the previous one is served.
func Server(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("a TLS server needs both a certificate file and a key file")
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: MinVersion, GetCertificate: r.get}, nil
}

// certReloader serves a certificate pair and reloads it when its files change.
type certReloader struct {
	certFile, keyFile string

	mu struct {
		sync.Mutex
		cert  *tls.Certificate
		stamp [2]fileStamp // of certFile and keyFile when cert was loaded
	}
}

// fileStamp tells a changed file from an unchanged one.
type fileStamp struct {
	modNanos int64
	size     int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime().UnixNano(), fi.Size()}
}

func (r *certReloader) load() error {
	stamp := [2]fileStamp{stampOf(r.certFile), stampOf(r.keyFile)}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.mu.cert, r.mu.stamp = &cert, stamp
	r.mu.Unlock()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	changed := r.mu.stamp != [2]fileStamp{stampOf(r.certFile), stampOf(r.keyFile)}
	r.mu.Unlock()
	if changed {
		r.load() // on failure (a renewal half written) the previous pair stays
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.cert, nil
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
