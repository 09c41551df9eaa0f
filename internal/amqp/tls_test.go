package amqp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// selfSigned returns a certificate for 127.0.0.1 valid for an hour.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tandem-test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestAMQPS: with Options.TLS, Serve speaks TLS and ServePlain on another listener of the
// same server speaks plain AMQP.
func TestAMQPS(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Options{Handler: h, TLS: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}})
	c, err := goamqp.Dial(testCtx(t), "amqps://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(),
		TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("amqps dial: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, "echo/tls", []byte("secret"))
	if !h.lastInfo().TLS {
		t.Error("ConnInfo.TLS is false on the TLS listener")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServePlain(ln) }()
	defer func() {
		srv.Close()
		<-done
	}()
	pc := dial(t, ln.Addr().String(), nil)
	roundTrip(t, pc, "echo/plain", []byte("open"))
	if h.lastInfo().TLS {
		t.Error("ConnInfo.TLS is true on the plain listener")
	}
}
