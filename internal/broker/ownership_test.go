package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// TestClaimOwnership: the broker answers with the claims that won (lost ones left out), the
// ownership survives a reopen, and the namespace state a geo-DR secondary copies leaves it out.
func TestClaimOwnership(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *Broker {
		b, err := Open(ctx, Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "space1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "space1", HubSpec{Name: "orders", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	won, err := b.ClaimOwnership(ctx, "space1", "orders", "$Default", []OwnershipClaim{{Partition: 0, OwnerID: "a"}, {Partition: 1, OwnerID: "a"}})
	if err != nil || len(won) != 2 || won[0].ETag == "" || won[0].ETag == won[1].ETag || won[0].LastModified.IsZero() {
		t.Fatalf("first claims: %+v, %v", won, err)
	}
	e0 := won[0].ETag
	won, err = b.ClaimOwnership(ctx, "space1", "orders", "$Default",
		[]OwnershipClaim{{Partition: 0, OwnerID: "b", IfMatch: "stale"}, {Partition: 1, OwnerID: "b"}, {Partition: 2, OwnerID: "b"}})
	if err != nil || len(won) != 1 || won[0].Partition != 2 || won[0].OwnerID != "b" {
		t.Fatalf("claims with one winner: %+v, %v", won, err)
	}
	if _, err := b.ClaimOwnership(ctx, "space1", "orders", "nogroup", []OwnershipClaim{{Partition: 0}}); err == nil {
		t.Fatal("a claim for a missing group succeeded")
	}
	n, _, err := b.NamespaceState("space1")
	if err != nil || n.Ownership != nil {
		t.Fatalf("the namespace state for a secondary carries ownership %+v (%v)", n.Ownership, err)
	}
	b.Close()
	b = open()
	defer b.Close()
	own, err := b.Ownerships("space1", "orders", "$Default")
	if err != nil || len(own) != 3 || own[0].ETag != e0 || own[0].OwnerID != "a" || own[2].OwnerID != "b" {
		t.Fatalf("after reopen: %+v, %v", own, err)
	}
}
