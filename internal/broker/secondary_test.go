package broker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// TestSecondaryIsReadOnly: while a namespace is a paired geo-DR secondary, every write is
// refused with ReadOnly naming the alias, and reads keep working.
func TestSecondaryIsReadOnly(t *testing.T) {
	b, err := Open(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "orders-east"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "orders-east", HubSpec{Name: "replicated", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	alias := meta.AliasConfig{Name: "orders-alias", Role: meta.RoleSecondary,
		Partner: &meta.Peer{Region: "west", Namespace: "orders-west"}, Epoch: 1, ProvisioningState: "Succeeded"}
	if err := b.propose(ctx, meta.SetAlias{Namespace: "orders-east", Alias: alias, Time: b.now()}); err != nil {
		t.Fatal(err)
	}
	rec := batch.Build([]batch.Record{{Value: []byte("x")}}, batch.BuildOptions{ProducerID: -1})
	writes := map[string]error{
		"create hub":     b.CreateHub(ctx, "orders-east", HubSpec{Name: "more"}),
		"delete hub":     b.DeleteHub(ctx, "orders-east", "replicated"),
		"commit offsets": b.CommitOffsets(ctx, "orders-east", "g", "replicated", []OffsetCommit{{Partition: 0, Offset: 0}}),
	}
	_, _, writes["append"] = b.Append("orders-east", "replicated", 0, rec)
	_, writes["send"] = b.Send(ctx, "orders-east", "replicated", []Event{{Body: []byte("x")}}, SendOptions{})
	_, writes["put policy"] = b.PutPolicy(ctx, "orders-east", "", "sender", []string{"Send"})
	_, writes["create group"] = b.CreateConsumerGroup(ctx, "orders-east", "replicated", "g2", "")
	_, writes["ip filter"] = b.UpdateNamespace(ctx, NamespaceSpec{Name: "orders-east", DefaultAction: "Deny", IPRules: []string{"10.0.0.0/8"}})
	for name, err := range writes {
		if !errcode.Is(err, errcode.ReadOnly) || !strings.Contains(err.Error(), `alias "orders-alias"`) {
			t.Errorf("%s on the secondary: %v, want ReadOnly naming the alias", name, err)
		}
	}
	if _, err := b.Hub("orders-east", "replicated"); err != nil {
		t.Errorf("reading a hub of the secondary: %v", err)
	}
	// Each side owns its private endpoints (and tier): the pairing rules need the secondary to
	// have its own, so it may change them while paired.
	if _, err := b.UpdateNamespace(ctx, NamespaceSpec{Name: "orders-east", PrivateEndpoints: []string{"127.0.0.1:7001"}}); err != nil {
		t.Errorf("changing the secondary's private endpoints: %v", err)
	}
	if _, err := b.Partition("orders-east", "replicated", 1); err != nil {
		t.Errorf("opening a partition of the secondary for reading: %v", err)
	}
	// Breaking the pairing (the alias goes away on this side) makes it writable again.
	if err := b.propose(ctx, meta.ClearAlias{Namespace: "orders-east", Time: b.now()}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "orders-east", HubSpec{Name: "more"}); err != nil {
		t.Errorf("create hub after the pairing ended: %v", err)
	}
}
