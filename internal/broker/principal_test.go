package broker

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

func quietBroker(t *testing.T, dir string) *Broker {
	t.Helper()
	b, err := Open(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// The audit's H4: a principal scoped to "payments" could use "PAYMENTS" and "PaYmEnTs".
func TestAuditH4_ScopeIsExact(t *testing.T) {
	p := Principal{Namespace: "shop-eu1", EntityPath: "payments", KeyName: "RootManageSharedAccessKey", Send: true, Listen: true, Manage: true}
	for _, hub := range []string{"PAYMENTS", "PaYmEnTs", "payments2"} {
		if p.CanSee(hub) {
			t.Errorf("scope payments sees %q", hub)
		}
		for _, r := range []Right{RightSend, RightListen, RightManage} {
			if p.Can(r, hub) {
				t.Errorf("scope payments holds %s on %q", r, hub)
			}
		}
	}
	if p.Can(RightManage, "") {
		t.Error("scope payments manages the namespace")
	}
	for _, r := range []Right{RightSend, RightListen, RightManage} {
		if !p.Can(r, "payments") {
			t.Errorf("scope payments lacks %s on its own hub", r)
		}
	}
}

// A credential's scope is the stored hub it names ignoring case: the Azure SDK for Go signs a
// lower-cased resource URI, so a token for hub "Payments" says "payments".
func TestAuditH4_ScopeResolvesToTheStoredHub(t *testing.T) {
	b := quietBroker(t, t.TempDir())
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "shop-eu1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "shop-eu1", HubSpec{Name: "Payments", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutPolicy(ctx, "shop-eu1", "Payments", "sender", []string{"Send"}); err != nil {
		t.Fatal(err)
	}
	root, _ := b.Policy("shop-eu1", "", meta.RootPolicyName)
	sender, _ := b.Policy("shop-eu1", "Payments", "sender")
	exp := time.Now().Add(time.Hour)

	for name, tc := range map[string]struct{ hub, tok string }{
		"namespace rule, request hub":    {"Payments", auth.NewSASToken("sb://shop-eu1/Payments", root.Name, root.PrimaryKey, exp)},
		"namespace rule, token hub":      {"payments", auth.NewSASToken("sb://shop-eu1/Payments", root.Name, root.PrimaryKey, exp)},
		"hub rule, lower-cased token":    {"payments", auth.NewSASToken("sb://shop-eu1/Payments", "sender", sender.PrimaryKey, exp)},
		"hub rule, request hub as-is":    {"Payments", auth.NewSASToken("sb://shop-eu1/Payments", "sender", sender.PrimaryKey, exp)},
		"hub rule, token for upper case": {"PAYMENTS", auth.NewSASToken("sb://shop-eu1/PAYMENTS", "sender", sender.PrimaryKey, exp)},
	} {
		p, err := b.AuthenticateSAS("shop-eu1", tc.hub, tc.tok)
		if err != nil || p.EntityPath != "Payments" {
			t.Errorf("%s: principal %+v, err %v; want scope Payments", name, p, err)
		}
	}
	cs := auth.ConnectionString{Endpoint: "sb://shop-eu1/", SharedAccessKeyName: "sender", SharedAccessKey: sender.PrimaryKey, EntityPath: "PAYMENTS"}
	if p, err := b.AuthenticatePlain(ctx, ConnectionStringUser, cs.String()); err != nil || p.EntityPath != "Payments" || p.Manage {
		t.Errorf("connection string EntityPath=PAYMENTS: %+v, %v; want Send scoped to Payments", p, err)
	}
}

// seedOldLog writes a metadata log as older Tandem could: hubs "payments" and "PAYMENTS".
func seedOldLog(t *testing.T, dir string) (rootKey string) {
	t.Helper()
	st, err := meta.Open(meta.StoreOptions{Dir: filepath.Join(dir, "meta"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rootKey, _ = auth.GenerateKey()
	second, _ := auth.GenerateKey()
	at := time.Now().UTC()
	cmds := []meta.Command{
		meta.CreateNamespace{Namespace: "shop-eu1", RootPrimaryKey: rootKey, RootSecondaryKey: second, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "payments", PartitionCount: 1, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "PAYMENTS", PartitionCount: 1, Time: at},
	}
	var entries []meta.Entry
	for i, c := range cmds {
		entries = append(entries, meta.Entry{Index: uint64(i + 1), Command: c})
	}
	if err := st.Apply(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return rootKey
}

// A node whose metadata already holds case variants starts, and a credential reaches exactly
// the variant it names; one naming neither exactly is refused, not guessed.
func TestAuditH4_PreexistingVariantsScopedExactly(t *testing.T) {
	dir := t.TempDir()
	key := seedOldLog(t, dir)
	b := quietBroker(t, dir)
	if hubs := b.Hubs("shop-eu1"); len(hubs) != 2 {
		t.Fatalf("hubs after restart: %v", hubs)
	}
	exp := time.Now().Add(time.Hour)
	tok := auth.NewSASToken("sb://shop-eu1/payments", meta.RootPolicyName, key, exp)
	p, err := b.AuthenticateSAS("shop-eu1", "payments", tok)
	if err != nil || p.EntityPath != "payments" || p.CanSee("PAYMENTS") {
		t.Fatalf("token for payments: %+v, %v; want scope payments only", p, err)
	}
	cs := auth.ConnectionString{Endpoint: "sb://shop-eu1/", SharedAccessKeyName: meta.RootPolicyName, SharedAccessKey: key, EntityPath: "PAYMENTS"}
	if p, err := b.AuthenticatePlain(context.Background(), ConnectionStringUser, cs.String()); err != nil || p.EntityPath != "PAYMENTS" || p.CanSee("payments") {
		t.Fatalf("EntityPath=PAYMENTS: %+v, %v; want scope PAYMENTS only", p, err)
	}
	cs.EntityPath = "Payments"
	_, err = b.AuthenticatePlain(context.Background(), ConnectionStringUser, cs.String())
	if !errcode.Is(err, errcode.Unauthorized) || !strings.Contains(err.Error(), "only ignoring case") {
		t.Fatalf("EntityPath=Payments with two variants: %v, want Unauthorized naming the ambiguity", err)
	}
	if err := b.CreateHub(context.Background(), "shop-eu1", HubSpec{Name: "PaYmEnTs", Partitions: 1}); !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("creating a third variant: %v, want Conflict", err)
	}
}
