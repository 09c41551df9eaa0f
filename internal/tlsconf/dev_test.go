package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func readFiles(t *testing.T, d *Dev) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range []string{d.CAFile, d.CAKeyFile, d.CertFile, d.KeyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func leafOf(t *testing.T, d *Dev) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(d.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCert(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureDevCreatesCAAndNodeCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	d, err := EnsureDev(dir, DevHosts("node1.example", "10.1.2.3", "0.0.0.0", "localhost"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if !d.CreatedCA || !d.IssuedCert {
		t.Fatalf("a fresh directory: CreatedCA=%v IssuedCert=%v, want both", d.CreatedCA, d.IssuedCert)
	}
	modes := map[string]os.FileMode{dir: 0o700, d.CAKeyFile: 0o600, d.KeyFile: 0o600, d.CAFile: 0o644, d.CertFile: 0o644}
	for path, want := range modes {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o, want %#o", filepath.Base(path), got, want)
		}
	}
	leaf := leafOf(t, d)
	if want := []string{"localhost", "node1.example"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", leaf.DNSNames, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1", "10.1.2.3"}; !slices.Equal(ips, want) {
		t.Errorf("IP SANs %v, want %v (no wildcard address)", ips, want)
	}
	pool, err := CAPool(d.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "node1.example", "10.1.2.3"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: t0,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the node certificate does not verify for %s: %v", h, err)
		}
	}
	if err := leaf.VerifyHostname("other.example"); err == nil {
		t.Error("the node certificate verifies for a host it was not issued for")
	}
}

func TestEnsureDevReusesOnRestart(t *testing.T) {
	dir := t.TempDir()
	hosts := DevHosts("node1.example")
	first, err := EnsureDev(dir, hosts, t0)
	if err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, first)
	again, err := EnsureDev(dir, hosts, t0.Add(200*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedCA || again.IssuedCert {
		t.Errorf("a restart: CreatedCA=%v IssuedCert=%v, want neither", again.CreatedCA, again.IssuedCert)
	}
	for name, b := range readFiles(t, again) {
		if !bytes.Equal(b, before[name]) {
			t.Errorf("%s changed on a restart", name)
		}
	}
	if !again.NotAfter.Equal(first.NotAfter) {
		t.Errorf("NotAfter %v on reuse, want %v", again.NotAfter, first.NotAfter)
	}
}

// A new advertised host or a certificate near its end issues the node certificate again with
// the same CA, so clients keep trusting the node.
func TestEnsureDevReissuesNodeCertificateKeepingTheCA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
		now   time.Time
	}{
		{"new host", DevHosts("node2.example"), t0},
		{"near its end", DevHosts(), t0.Add(devNodeLifetime - devRenewBefore + time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := EnsureDev(dir, DevHosts(), t0)
			if err != nil {
				t.Fatal(err)
			}
			before := readFiles(t, first)
			d, err := EnsureDev(dir, tc.hosts, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			after := readFiles(t, d)
			if d.CreatedCA || !bytes.Equal(after[CAFile], before[CAFile]) || !bytes.Equal(after[CAKeyFile], before[CAKeyFile]) {
				t.Error("the CA changed")
			}
			if !d.IssuedCert || bytes.Equal(after[CertFile], before[CertFile]) || bytes.Equal(after[KeyFile], before[KeyFile]) {
				t.Error("the node certificate and key were not issued again")
			}
			pool, _ := CAPool(d.CAFile)
			leaf := leafOf(t, d)
			for _, h := range tc.hosts {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: tc.now}); err != nil {
					t.Errorf("the new certificate does not verify for %s: %v", h, err)
				}
			}
		})
	}
}

func TestEnsureDevRefusesKeysOthersCanRead(t *testing.T) {
	for _, file := range []string{CAKeyFile, KeyFile} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := EnsureDev(dir, DevHosts(), t0); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, file)
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			// A new host makes the node certificate need the CA key as well.
			_, err := EnsureDev(dir, DevHosts("node3.example"), t0)
			if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("EnsureDev with %s mode 0644: %v, want a refusal naming chmod 600", file, err)
			}
		})
	}
}

func TestEnsureDevRefusesAForeignCAKey(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if _, err := EnsureDev(dir, DevHosts(), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDev(other, DevHosts(), t0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(other, CAKeyFile))
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := EnsureDev(dir, DevHosts("node4.example"), t0)
	if err == nil || !strings.Contains(err.Error(), "is not the key of") {
		t.Fatalf("issuing with another CA's key: %v, want a refusal", err)
	}
}

// handshake runs one TLS handshake over loopback between a server and a client config.
func handshake(t *testing.T, server, client *tls.Config, name string) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		tc.Handshake()
	}()
	defer func() { <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client = client.Clone()
	client.ServerName = name
	tc := tls.Client(c, client)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	return tc.Handshake()
}

func TestServerAndClientConfigs(t *testing.T) {
	d, err := EnsureDev(t.TempDir(), DevHosts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Server(d.CertFile, d.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	trusting, err := Client(d.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := handshake(t, srv, trusting, h); err != nil {
			t.Errorf("a client trusting the dev CA, to %s: %v", h, err)
		}
	}
	wrong, err := EnsureDev(t.TempDir(), DevHosts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Client(wrong.CAFile)
	var unknown x509.UnknownAuthorityError
	if err := handshake(t, srv, other, "localhost"); !errors.As(err, &unknown) {
		t.Errorf("a client trusting another CA: %v, want x509.UnknownAuthorityError", err)
	}
	system, _ := Client("")
	if err := handshake(t, srv, system, "localhost"); !errors.As(err, &unknown) {
		t.Errorf("a client trusting the system roots: %v, want x509.UnknownAuthorityError", err)
	}
	old := trusting.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if err := handshake(t, srv, old, "localhost"); err == nil {
		t.Error("a TLS 1.1 client was accepted; the minimum is TLS 1.2")
	}
	if srv.MinVersion != tls.VersionTLS12 || trusting.MinVersion != tls.VersionTLS12 || system.MinVersion != tls.VersionTLS12 {
		t.Error("a configuration allows TLS below 1.2")
	}
}

func TestConfigErrorsNameTheFile(t *testing.T) {
	d, err := EnsureDev(t.TempDir(), DevHosts(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CAPool(d.CAKeyFile); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a key file as CA file: %v", err)
	}
	if _, err := Client(filepath.Join(d.Dir, "missing.pem")); err == nil {
		t.Error("a missing CA file was accepted")
	}
	if _, err := Server(d.CertFile, d.CAKeyFile); err == nil || !strings.Contains(err.Error(), d.CertFile) {
		t.Errorf("a certificate with the wrong key: %v", err)
	}
	if _, err := Server(d.CertFile, ""); err == nil {
		t.Error("a server without key file was accepted")
	}
}

// An operator's renewed certificate is served from the next handshake on, without a restart;
// a renewal half written (a file that does not load) leaves the previous certificate served.
func TestServerReloadsARenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	d, err := EnsureDev(dir, DevHosts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Server(d.CertFile, d.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := Client(d.CAFile)
	if err := handshake(t, srv, cl, "renewed.example"); err == nil {
		t.Fatal("the first certificate verifies for a host it does not hold")
	}
	if _, err := EnsureDev(dir, DevHosts("renewed.example"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, srv, cl, "renewed.example"); err != nil {
		t.Fatalf("after the renewal: %v", err)
	}
	if err := os.WriteFile(d.CertFile, []byte("half written"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, srv, cl, "renewed.example"); err != nil {
		t.Fatalf("with a broken certificate file the previous certificate must stay: %v", err)
	}
}
