package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The files of a dev TLS directory (<data>/tls for `tandem serve --tls-dev`).
const (
	CAFile      = "ca.pem"       // the CA certificate clients trust
	CAKeyFile   = "ca-key.pem"   // the CA's private key, mode 0600
	CertFile    = "node.pem"     // the node certificate, signed by the CA
	KeyFile     = "node-key.pem" // the node's private key, mode 0600
	DevDirMode  = 0o700
	keyFileMode = 0o600
)

// Lifetimes of the dev certificates. The node certificate is reissued on a start that finds
// it within devRenewBefore of its end; the CA is kept, so clients keep trusting the node.
const (
	devCALifetime   = 10 * 365 * 24 * time.Hour
	devNodeLifetime = 397 * 24 * time.Hour // the longest any TLS client accepts for a server certificate
	devRenewBefore  = 30 * 24 * time.Hour
	devBackdate     = time.Hour // tolerates a client clock a little behind
)

// DefaultDevHosts are the names every dev node certificate holds.
var DefaultDevHosts = []string{"localhost", "127.0.0.1", "::1"}

// Dev is a dev TLS directory: a local CA and a node certificate it signed.
type Dev struct {
	Dir                                  string
	CAFile, CAKeyFile, CertFile, KeyFile string   // absolute paths
	Hosts                                []string // the names and addresses the node certificate holds
	NotAfter                             time.Time
	CreatedCA                            bool // this call created the CA: clients must be given its ca.pem
	IssuedCert                           bool // this call issued the node certificate (new CA, new host, or renewal)
}

// DevHosts is DefaultDevHosts plus the hosts given (advertised names, listener addresses),
// without duplicates, empty or wildcard hosts (0.0.0.0, ::).
func DevHosts(extra ...string) []string {
	hosts := slices.Clone(DefaultDevHosts)
	for _, h := range extra {
		h = strings.Trim(h, "[]")
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) || slices.Contains(hosts, h) {
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// EnsureDev makes dir a dev TLS directory whose node certificate holds hosts, reusing what is
// there: the CA is created only when ca.pem is missing, and the node certificate is issued
// again only when it is missing, not signed by the CA, lacks one of hosts, or ends within 30
// days of now. Private keys are written with mode 0600 (dir 0700), and EnsureDev refuses to
// use a key file that group or others may read.
func EnsureDev(dir string, hosts []string, now time.Time) (*Dev, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dev TLS directory %s: %w", dir, err)
	}
	d := &Dev{Dir: abs, CAFile: filepath.Join(abs, CAFile), CAKeyFile: filepath.Join(abs, CAKeyFile),
		CertFile: filepath.Join(abs, CertFile), KeyFile: filepath.Join(abs, KeyFile), Hosts: hosts}
	if err := os.MkdirAll(abs, DevDirMode); err != nil {
		return nil, fmt.Errorf("creating the dev TLS directory: %w", err)
	}
	ca, err := d.ensureCA(now)
	if err != nil {
		return nil, err
	}
	if err := checkKeyMode(d.KeyFile); err != nil {
		return nil, err
	}
	if leaf, ok := d.reusableNode(ca, now); ok {
		d.NotAfter = leaf.NotAfter
		return d, nil
	}
	if err := d.issueNode(ca, now); err != nil {
		return nil, err
	}
	return d, nil
}

// ensureCA reads the CA certificate, creating the CA when there is none.
func (d *Dev) ensureCA(now time.Time) (*x509.Certificate, error) {
	b, err := os.ReadFile(d.CAFile)
	if errors.Is(err, fs.ErrNotExist) {
		return d.createCA(now)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the dev CA: %w", err)
	}
	ca, err := parseCert(b)
	if err != nil || !ca.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate; remove %s to create a new dev CA (clients must then trust the new %s)",
			d.CAFile, d.Dir, CAFile)
	}
	if now.After(ca.NotAfter) {
		return nil, fmt.Errorf("the dev CA %s expired on %s; remove %s to create a new one (clients must then trust the new %s)",
			d.CAFile, ca.NotAfter.Format(time.DateOnly), d.Dir, CAFile)
	}
	return ca, nil
}

func (d *Dev) createCA(now time.Time) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Tandem dev"}, CommonName: "Tandem dev CA " + host},
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              now.Add(devCALifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating the dev CA: %w", err)
	}
	if err := writeKey(d.CAKeyFile, key); err != nil {
		return nil, err
	}
	if err := writeAtomic(d.CAFile, pemCert(der), 0o644); err != nil {
		return nil, err
	}
	d.CreatedCA = true
	return x509.ParseCertificate(der)
}

// reusableNode reports whether the node certificate on disk can be served: it pairs with its
// key, the CA signed it, it names every host and it does not end within devRenewBefore.
func (d *Dev) reusableNode(ca *x509.Certificate, now time.Time) (*x509.Certificate, bool) {
	pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
	if err != nil {
		return nil, false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(devRenewBefore),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return nil, false
	}
	for _, h := range d.Hosts {
		if leaf.VerifyHostname(h) != nil {
			return nil, false
		}
	}
	return leaf, true
}

// issueNode writes a new node key and a certificate for d.Hosts signed by the CA.
func (d *Dev) issueNode(ca *x509.Certificate, now time.Time) error {
	caKey, err := d.readCAKey(ca)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Tandem dev"}, CommonName: d.Hosts[0]},
		NotBefore:   now.Add(-devBackdate),
		NotAfter:    now.Add(devNodeLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	for _, h := range d.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := sign(tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("issuing the dev node certificate: %w", err)
	}
	if err := writeKey(d.KeyFile, key); err != nil {
		return err
	}
	if err := writeAtomic(d.CertFile, pemCert(der), 0o644); err != nil {
		return err
	}
	d.IssuedCert, d.NotAfter = true, tmpl.NotAfter
	return nil
}

// readCAKey reads the CA's key and checks that it belongs to the CA certificate.
func (d *Dev) readCAKey(ca *x509.Certificate) (crypto.Signer, error) {
	if err := checkKeyMode(d.CAKeyFile); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.CAKeyFile)
	if err != nil {
		return nil, fmt.Errorf("the node certificate must be issued again, but the dev CA's key is unreadable (%w); "+
			"remove %s to create a new dev CA (clients must then trust the new %s)", err, d.Dir, CAFile)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM key", d.CAKeyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.CAKeyFile, err)
	}
	signer, ok := k.(crypto.Signer)
	pub, _ := ca.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || pub == nil || !pub.Equal(signer.Public()) {
		return nil, fmt.Errorf("%s is not the key of %s; remove %s to create a new dev CA", d.CAKeyFile, d.CAFile, d.Dir)
	}
	return signer, nil
}

// checkKeyMode refuses a key file that group or others may read or write.
func checkKeyMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // a missing key is created, an unreadable one reported where it is read
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("private key %s has mode %#o, so other users may read it; run: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	return nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
}

func parseCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), keyFileMode)
}

// writeAtomic writes data to path through a temporary file created with mode (so a key is
// never readable by others, not even for a moment) and renamed over path.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}
