package client_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/httpapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node starts an HTTP API on a real broker and returns its URL and admin key.
func node(t *testing.T) (string, string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: t.TempDir(), Region: "west", Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Broker: b, Gatherer: reg, Logger: quiet}))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	key, err := os.ReadFile(b.AdminKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, strings.TrimSpace(string(key))
}

func TestManagement(t *testing.T) {
	url, key := node(t)
	ctx := context.Background()
	c, err := client.New(url, client.WithAdminKey(key))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "shop-ns", client.NamespaceOptions{Tier: "premium"})
	if err != nil || ns.Tier != "Premium" || ns.Region != "west" || ns.Endpoint != "sb://shop-ns/" {
		t.Fatalf("CreateNamespace = %+v, %v", ns, err)
	}
	h, err := c.CreateHub(ctx, "shop-ns", "orders", client.HubOptions{Partitions: 3, Retention: 36 * time.Hour, MaxEventBytes: 2048})
	if err != nil || h.Partitions != 3 || h.Retention != 36*time.Hour || h.MaxEventBytes != 2048 {
		t.Fatalf("CreateHub = %+v, %v", h, err)
	}
	h, err = c.UpdateHub(ctx, "shop-ns", "orders", client.HubOptions{Partitions: 6})
	if err != nil || h.Partitions != 6 || h.MaxEventBytes != 2048 {
		t.Fatalf("UpdateHub = %+v, %v", h, err)
	}
	if _, err := c.UpdateHub(ctx, "shop-ns", "nohub", client.HubOptions{Partitions: 6}); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("UpdateHub of a missing hub: %v", err)
	}
	if hs, err := c.ListHubs(ctx, "shop-ns"); err != nil || len(hs) != 1 {
		t.Fatalf("ListHubs = %v, %v", hs, err)
	}
	if _, err := c.CreateConsumerGroup(ctx, "shop-ns", "orders", "billing", "meta"); err != nil {
		t.Fatal(err)
	}
	gs, err := c.ListConsumerGroups(ctx, "shop-ns", "orders")
	if err != nil || len(gs) != 2 {
		t.Fatalf("ListConsumerGroups = %v, %v", gs, err)
	}
	r, err := c.PutAuthorizationRule(ctx, "shop-ns", "orders", "app", []string{"Send", "Listen"})
	if err != nil || len(r.Rights) != 2 {
		t.Fatalf("PutAuthorizationRule = %+v, %v", r, err)
	}
	k, err := c.ListKeys(ctx, "shop-ns", "orders", "app")
	if err != nil || !strings.HasSuffix(k.PrimaryConnectionString, ";EntityPath=orders") {
		t.Fatalf("ListKeys = %+v, %v", k, err)
	}
	k2, err := c.RegenerateKeys(ctx, "shop-ns", "orders", "app", "SecondaryKey")
	if err != nil || k2.SecondaryKey == k.SecondaryKey || k2.PrimaryKey != k.PrimaryKey {
		t.Fatalf("RegenerateKeys = %+v, %v", k2, err)
	}
	if rs, err := c.ListAuthorizationRules(ctx, "shop-ns", ""); err != nil || len(rs) == 0 {
		t.Fatalf("namespace rules = %v, %v", rs, err)
	}
	if err := c.DeleteConsumerGroup(ctx, "shop-ns", "orders", "billing"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteHub(ctx, "shop-ns", "orders"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteNamespace(ctx, "shop-ns"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetNamespace(ctx, "shop-ns")
	if errcode.CodeOf(err) != errcode.NotFound || !strings.Contains(err.Error(), "shop-ns") {
		t.Fatalf("GetNamespace after delete: %v", err)
	}
}

func TestDataPlaneWithConnectionString(t *testing.T) {
	url, key := node(t)
	ctx := context.Background()
	admin, _ := client.New(url, client.WithAdminKey(key))
	if _, err := admin.CreateNamespace(ctx, "shop-ns", client.NamespaceOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateHub(ctx, "shop-ns", "orders", client.HubOptions{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutAuthorizationRule(ctx, "shop-ns", "orders", "app", []string{"Send", "Listen"}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.ListKeys(ctx, "shop-ns", "orders", "app")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, client.WithConnectionString(k.PrimaryConnectionString))
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{[]byte(`{"n":1}`), []byte("text"), []byte(`"quoted"`), {0xff, 0x00, 0x80}, []byte(`{ "spaced": true }`), {}}
	var evs []client.Event
	for _, b := range bodies {
		evs = append(evs, client.Event{Body: b, PartitionKey: "k1", Properties: map[string]string{"p": "v"}})
	}
	placed, err := c.Send(ctx, "shop-ns", "orders", evs, client.SendOptions{PartitionID: client.Partition(1)})
	if err != nil || len(placed) != len(bodies) || placed[0].PartitionID != 1 {
		t.Fatalf("Send = %v, %v", placed, err)
	}
	res, err := c.Receive(ctx, "shop-ns", "orders", 1, client.ReceiveOptions{From: client.Start})
	if err != nil || len(res.Events) != len(bodies) || res.NextOffset != int64(len(bodies)) {
		t.Fatalf("Receive = %+v, %v", res, err)
	}
	for i, ev := range res.Events {
		if !bytes.Equal(ev.Body, bodies[i]) || ev.PartitionKey != "k1" || ev.Properties["p"] != "v" || ev.Offset != int64(i) {
			t.Errorf("event %d = %q %+v, want body %q", i, ev.Body, ev, bodies[i])
		}
	}
	res, err = c.Receive(ctx, "shop-ns", "orders", 1, client.ReceiveOptions{From: client.AtOffset(2), Max: 1})
	if err != nil || len(res.Events) != 1 || res.Events[0].Offset != 2 {
		t.Fatalf("Receive at offset 2 = %+v, %v", res, err)
	}
	if _, err := c.SetCheckpoint(ctx, "shop-ns", "orders", "$Default", 1, 3, "m"); err != nil {
		t.Fatal(err)
	}
	cps, err := c.GetCheckpoints(ctx, "shop-ns", "orders", "$Default")
	if err != nil || len(cps) != 1 || cps[0].Offset != 3 || cps[0].Metadata != "m" {
		t.Fatalf("GetCheckpoints = %+v, %v", cps, err)
	}
	// The hub-scoped credential cannot manage the namespace.
	if _, err := c.ListHubs(ctx, "shop-ns"); errcode.CodeOf(err) != errcode.Forbidden {
		t.Fatalf("ListHubs with a hub credential: %v", err)
	}
	if _, err := client.New(url, client.WithConnectionString("Endpoint=sb://x/")); !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatalf("bad connection string: %v", err)
	}
}

func TestPositionsAndErrors(t *testing.T) {
	for _, s := range []string{"start", "end", "offset:5", "seq:7", "time:2024-05-01T12:00:00Z"} {
		p, err := client.ParsePosition(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePosition(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := client.ParsePosition("offset:-1"); !errcode.Is(err, errcode.InvalidArgument) {
		t.Errorf("negative offset: %v", err)
	}
	if _, err := client.New("ftp://x"); err == nil {
		t.Error("ftp URL accepted")
	}
	c, _ := client.New("http://127.0.0.1:1")
	if _, err := c.ListNamespaces(context.Background()); !errcode.Is(err, errcode.Unavailable) {
		t.Errorf("unreachable server: %v", err)
	}
}
