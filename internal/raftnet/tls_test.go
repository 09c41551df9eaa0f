package raftnet

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

	"go.etcd.io/raft/v3/raftpb"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "raftnet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

type tlsPair struct{ server, client *tls.Config }

// testTLS issues node id a certificate for 127.0.0.<id> (server and client use) and returns
// configs that trust only ca and require a client certificate from it.
func testTLS(t *testing.T, ca *testCA, id uint64) tlsPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(id) + 1), Subject: pkix.Name{CommonName: loopback(id)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP(loopback(id))},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return tlsPair{
		server: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: ca.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13},
		client: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.pool, MinVersion: tls.VersionTLS13},
	}
}

func withTLS(p tlsPair) func(*Options) {
	return func(o *Options) { o.ServerTLS, o.ClientTLS = p.server, p.client }
}

func TestTLSCarriesMessages(t *testing.T) {
	ca := newTestCA(t)
	b := newNode(t, 3, withTLS(testTLS(t, ca, 3))).start(t)
	pa := testTLS(t, ca, 4)
	a := newNode(t, 4, func(o *Options) {
		withTLS(pa)(o)
		o.Peers = map[uint64]string{3: b.addr()}
	}).start(t)
	b.t.SetPeer(4, a.addr())
	a.t.Send(envs(1, msg(raftpb.MsgApp, 4, 3, 1), msg(raftpb.MsgHeartbeat, 4, 3, 2)))
	b.t.Send(envs(1, msg(raftpb.MsgAppResp, 3, 4, 1)))
	b.in.waitFor(t, 2)
	a.in.waitFor(t, 1)

	// A plaintext dialer cannot talk to a TLS listener.
	plain := newNode(t, 5, func(o *Options) {
		o.Peers = map[uint64]string{3: b.addr()}
		o.HandshakeTimeout = time.Second
	}).start(t)
	plain.t.Send(envs(1, msg(raftpb.MsgApp, 5, 3, 1)))
	eventually(t, "plaintext refused", func() bool {
		return b.metric(t, "tandem_raftnet_handshake_failures_total", map[string]string{"side": "accept", "reason": "tls"}) >= 1
	})
	if n := b.in.count(); n != 2 {
		t.Fatalf("listener got %d messages, want only the 2 from the TLS peer", n)
	}
}

func TestTLSWithAnotherCAIsRefused(t *testing.T) {
	b := newNode(t, 2, withTLS(testTLS(t, newTestCA(t), 2))).start(t)
	a := newNode(t, 1, func(o *Options) {
		withTLS(testTLS(t, newTestCA(t), 1))(o)
		o.Peers = map[uint64]string{2: b.addr()}
	}).start(t)
	a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, 1)))
	eventually(t, "dialer refuses the listener's certificate", func() bool {
		return a.metric(t, "tandem_raftnet_handshake_failures_total", map[string]string{"side": "dial", "reason": "tls"}) >= 2
	})
	if b.in.count() != 0 || a.metric(t, "tandem_raftnet_connects_total", nil) != 0 {
		t.Fatal("a peer from another CA got through")
	}
}
