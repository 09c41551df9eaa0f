package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func openQuotaBroker(t *testing.T, q Quotas) *Broker {
	t.Helper()
	b, err := Open(context.Background(), Options{DataDir: t.TempDir(), Quotas: q,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func wantQuota(t *testing.T, what string, err error) {
	t.Helper()
	if !errcode.Is(err, errcode.QuotaExceeded) {
		t.Fatalf("%s: %v, want QuotaExceeded", what, err)
	}
	if errcode.HTTPStatus(err) != http.StatusForbidden || errcode.KafkaCode(err) != kerr.PolicyViolation.Code {
		t.Fatalf("%s: HTTP %d, Kafka %d; want 403 and POLICY_VIOLATION", what, errcode.HTTPStatus(err), errcode.KafkaCode(err))
	}
}

// TestTierQuotas checks the tier table: a basic namespace takes 10 event hubs and no group
// beyond $Default; a standard one 20 groups per hub; an explicit quota replaces the table.
func TestTierQuotas(t *testing.T) {
	ctx := context.Background()
	b := openQuotaBroker(t, Quotas{})
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "basic-ns", Tier: "basic"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := b.CreateHub(ctx, "basic-ns", HubSpec{Name: fmt.Sprintf("h%d", i), Partitions: 1}); err != nil {
			t.Fatalf("hub %d of 10: %v", i, err)
		}
	}
	wantQuota(t, "11th hub of a basic namespace", b.CreateHub(ctx, "basic-ns", HubSpec{Name: "h10", Partitions: 1}))
	wantQuota(t, "validating an 11th hub", b.ValidateHub("basic-ns", HubSpec{Name: "h10", Partitions: 1}))
	_, err := b.CreateConsumerGroup(ctx, "basic-ns", "h0", "readers", "")
	wantQuota(t, "a group beside $Default on basic", err)

	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "standard-ns"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "standard-ns", HubSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 19 {
		if _, err := b.CreateConsumerGroup(ctx, "standard-ns", "orders", fmt.Sprintf("g%d", i), ""); err != nil {
			t.Fatalf("group %d of 19 beside $Default: %v", i, err)
		}
	}
	_, err = b.CreateConsumerGroup(ctx, "standard-ns", "orders", "g19", "")
	wantQuota(t, "21st group of a standard hub", err)
	wantQuota(t, "a commit creating a 21st group", b.CommitOffsets(ctx, "standard-ns", "g19", "orders", []OffsetCommit{{Partition: 0, Offset: 1}}))
	if err := b.CommitOffsets(ctx, "standard-ns", "g3", "orders", []OffsetCommit{{Partition: 0, Offset: 1}}); err != nil {
		t.Fatalf("a commit on an existing group at the quota: %v", err)
	}

	over := openQuotaBroker(t, Quotas{HubsPerNamespace: 2, GroupsPerHub: -1})
	if _, err := over.CreateNamespace(ctx, NamespaceSpec{Name: "basic-ns", Tier: "basic"}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := over.CreateHub(ctx, "basic-ns", HubSpec{Name: fmt.Sprintf("h%d", i), Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	wantQuota(t, "3rd hub with --max-hubs-per-namespace=2", over.CreateHub(ctx, "basic-ns", HubSpec{Name: "h2", Partitions: 1}))
	for i := range 30 {
		if _, err := over.CreateConsumerGroup(ctx, "basic-ns", "h0", fmt.Sprintf("g%d", i), ""); err != nil {
			t.Fatalf("group %d with --max-groups-per-hub=-1: %v", i, err)
		}
	}
}

// TestPartitionsPerNode checks the node-wide partition quota on create and on growth.
func TestPartitionsPerNode(t *testing.T) {
	ctx := context.Background()
	b := openQuotaBroker(t, Quotas{PartitionsPerNode: 10})
	for _, ns := range []string{"tenant-a", "tenant-b"} {
		if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: ns}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.CreateHub(ctx, "tenant-a", HubSpec{Name: "orders", Partitions: 6}); err != nil {
		t.Fatal(err)
	}
	wantQuota(t, "5 more partitions of 10", b.CreateHub(ctx, "tenant-b", HubSpec{Name: "orders", Partitions: 5}))
	if err := b.CreateHub(ctx, "tenant-b", HubSpec{Name: "orders", Partitions: 4}); err != nil {
		t.Fatalf("4 more partitions of 10: %v", err)
	}
	wantQuota(t, "growing a hub past the node's partitions", b.AddPartitions(ctx, "tenant-a", "orders", 7))
	if h, _ := b.Hub("tenant-a", "orders"); h.Partitions != 6 {
		t.Fatalf("the refused growth left %d partitions", h.Partitions)
	}
}

// TestGroupQuotaUnderConcurrency creates groups from many goroutines at once: exactly the
// quota's number succeed, because the check and the proposal are one critical section.
func TestGroupQuotaUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	b := openQuotaBroker(t, Quotas{GroupsPerHub: 5})
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "tenant-a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "tenant-a", HubSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if i%2 == 0 {
				b.CreateConsumerGroup(ctx, "tenant-a", "orders", fmt.Sprintf("g%d", i), "")
			} else {
				b.CommitOffsets(ctx, "tenant-a", fmt.Sprintf("g%d", i), "orders", []OffsetCommit{{Partition: 0, Offset: 0}})
			}
		})
	}
	wg.Wait()
	if gs, _ := b.ConsumerGroups("tenant-a", "orders"); len(gs) != 5 {
		t.Fatalf("20 concurrent creations under a quota of 5 left %d groups", len(gs))
	}
}
