package interop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
)

// sasToken signs a SAS token for uri as the Go SDK does (internal/sas: the lower-cased,
// query-escaped URI, a newline, the expiry in Unix seconds; HMAC-SHA256 with the key).
func sasToken(uri, keyName, key string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(uri))
	se := fmt.Sprint(expiry.Unix())
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return fmt.Sprintf("SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s", sr, sig, se, keyName)
}

// A wrong key and an expired token are refused with amqp:unauthorized-access, which the SDK
// reports as ErrorCodeUnauthorizedAccess at once (it does not retry it); a token signed the same
// way that has not expired works, so the refusals are about the key and the time.
func TestAMQPUnauthorized(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	addr := e.n.addrs().amqp
	wrongKey := base64.StdEncoding.EncodeToString([]byte("not the key of any namespace, 32b"))
	sasString := func(expiry time.Time) string {
		return fmt.Sprintf("Endpoint=sb://%s;SharedAccessSignature=%s;UseDevelopmentEmulator=true", addr,
			sasToken("amqp://"+addr+"/"+hub, e.keyName, e.key, expiry))
	}
	accepted := int64(0)
	for _, tc := range []struct {
		name, connString string
		ok               bool
	}{
		{"the namespace's key", e.connString(), true},
		{"the namespace's key, the endpoint with a slash", emulatorString(addr+"/", e.keyName, e.key), true},
		{"a wrong key", emulatorString(addr, e.keyName, wrongKey), false},
		{"a wrong key name", emulatorString(addr, "NoSuchRule", e.key), false},
		{"a token valid for an hour", sasString(time.Now().Add(time.Hour)), true},
		{"a token expired a minute ago", sasString(time.Now().Add(-time.Minute)), false},
	} {
		if tc.ok {
			accepted++
		}
		p, err := azeventhubs.NewProducerClientFromConnectionString(tc.connString, hub, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, perr := p.GetEventHubProperties(ctx, nil)
		serr := send(ctx, p, bodies("auth", 1), nil)
		cancel()
		p.Close(context.Background())
		if tc.ok {
			if perr != nil || serr != nil {
				t.Errorf("%s: GetEventHubProperties: %v; send: %v", tc.name, perr, serr)
			}
			continue
		}
		if codeOf(serr) != azeventhubs.ErrorCodeUnauthorizedAccess {
			t.Errorf("%s: send returned %v (code %q), want ErrorCodeUnauthorizedAccess", tc.name, serr, codeOf(serr))
		}
		// GetEventHubProperties hands the $cbs reply back untransformed (the SDK's mgmt.go does not
		// pass it through TransformError): status 401, as Event Hubs answers a refused token.
		if perr == nil || !strings.Contains(perr.Error(), "status code 401") {
			t.Errorf("%s: GetEventHubProperties returned %v, want the $cbs reply's status code 401", tc.name, perr)
		}
	}
	// Nothing the refused clients sent was stored: one event per accepted client.
	pp, err := e.producer(t, hub).GetPartitionProperties(within(t, time.Minute), "0", nil)
	if err != nil || pp.LastEnqueuedSequenceNumber != accepted-1 {
		t.Errorf("after %d accepted and 3 refused sends the partition is %+v, %v; want %d events", accepted, pp, err, accepted)
	}
}

// The emulator's documented connection string, with its literal placeholder key SAS_KEY_VALUE,
// works against `tandem serve --dev`: the connection lands in the dev namespace "default".
func TestAMQPEmulatorPlaceholderKey(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := hubName(t)
	if _, err := e.n.api.CreateHub(within(t, time.Minute), "default", hub, client.HubOptions{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	cs := emulatorString(e.n.addrs().amqp, rootRule, "SAS_KEY_VALUE") + ";"
	p, err := azeventhubs.NewProducerClientFromConnectionString(cs, hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	mustSend(t, p, bodies("emulator", 2), &azeventhubs.EventDataBatchOptions{PartitionID: ptr("1")})
	c, err := azeventhubs.NewConsumerClientFromConnectionString(cs, hub, "$default", nil) // the JS SDK's spelling
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	evs := receive(t, c, "1", azeventhubs.StartPosition{Earliest: ptr(true)}, 2, time.Minute)
	if string(evs[0].Body) != "emulator-0" || string(evs[1].Body) != "emulator-1" {
		t.Errorf("received %q and %q", evs[0].Body, evs[1].Body)
	}
	// The events are in namespace default, as the HTTP API shows.
	got, err := e.n.api.Receive(within(t, time.Minute), "default", hub, 1, client.ReceiveOptions{From: client.Start, Max: 10})
	if err != nil || len(got.Events) != 2 {
		t.Errorf("HTTP receive from default/%s: %+v, %v", hub, got, err)
	}
}

// With TLS (--tls-dev) the AMQPS listener speaks AMQP inside TLS with the node's certificate:
// the SDK, trusting the dev CA and with no UseDevelopmentEmulator, sends and receives on it.
func TestAMQPSOverTLS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(tmpRoot, "tls-"+hubName(t))
	n, err := startNode(dir, readyLine{}, "--tls-dev", "--amqps-addr", "127.0.0.1:0", "--kafka-tls-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	n.logOnFailure(t)
	if !n.ready.tls || n.ready.amqps == "" || n.ready.amqps == "off" {
		t.Fatalf("a node with --tls-dev reports amqps=%q (TLS form: %v)", n.ready.amqps, n.ready.tls)
	}
	keys, err := setupNamespace(n, sharedNS)
	if err != nil {
		t.Fatal(err)
	}
	e := env{n: n, ns: sharedNS, keyName: keys.KeyName, key: keys.PrimaryKey}
	hub := e.newHub(t, 1)
	tc, err := n.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	// go-amqp verifies the endpoint's host:port as the server name; the dev certificate names
	// localhost and 127.0.0.1.
	tc.ServerName = "localhost"
	cs := fmt.Sprintf("Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=%s", n.ready.amqps, e.keyName, e.key)
	p, err := azeventhubs.NewProducerClientFromConnectionString(cs, hub, &azeventhubs.ProducerClientOptions{TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	mustSend(t, p, bodies("tls", 2), nil)
	c, err := azeventhubs.NewConsumerClientFromConnectionString(cs, hub, azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	evs := receive(t, c, "0", azeventhubs.StartPosition{Earliest: ptr(true)}, 2, time.Minute)
	if string(evs[0].Body) != "tls-0" || string(evs[1].Body) != "tls-1" {
		t.Errorf("received %q, %q", evs[0].Body, evs[1].Body)
	}
	// A client that does not trust the CA is refused in the handshake.
	untrusting, err := azeventhubs.NewProducerClientFromConnectionString(cs, hub,
		&azeventhubs.ProducerClientOptions{TLSConfig: &tls.Config{}, RetryOptions: azeventhubs.RetryOptions{MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close(context.Background())
	if _, err := untrusting.GetEventHubProperties(within(t, time.Minute), nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the dev CA: %v, want a certificate error", err)
	}
}
