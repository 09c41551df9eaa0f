package tandemcheckpoints_test

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
	tandemcheckpoints "github.com/tandem-streaming/tandem/client/azeventhubs"
)

const (
	fqns = "localhost" // what the SDK passes: the host of its connection string
	hub  = "orders"
	ns   = "default" // --dev's namespace
)

func ptr[T any](v T) *T { return &v }

func own(p, owner string, etag *azcore.ETag) azeventhubs.Ownership {
	return azeventhubs.Ownership{FullyQualifiedNamespace: fqns, EventHubName: hub, ConsumerGroup: azeventhubs.DefaultConsumerGroup,
		PartitionID: p, OwnerID: owner, ETag: etag}
}

func cp(p string, seq *int64, offset *string) azeventhubs.Checkpoint {
	return azeventhubs.Checkpoint{FullyQualifiedNamespace: fqns, EventHubName: hub, ConsumerGroup: azeventhubs.DefaultConsumerGroup,
		PartitionID: p, SequenceNumber: seq, Offset: offset}
}

// setup starts tandem serve on dir and creates hub with 4 partitions.
func setup(t *testing.T, dir string) (*node, *client.Client, *tandemcheckpoints.CheckpointStore) {
	t.Helper()
	n := startNode(t, dir)
	c, err := client.New(n.httpURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.CreateHub(ctx, ns, hub, client.HubOptions{Partitions: 4}); err != nil {
		t.Fatalf("creating the hub: %v; the node's log:\n%s", err, n.log())
	}
	s, err := tandemcheckpoints.NewCheckpointStore(c, ns)
	if err != nil {
		t.Fatal(err)
	}
	return n, c, s
}

func owners(t *testing.T, s *tandemcheckpoints.CheckpointStore, group string) map[string]azeventhubs.Ownership {
	t.Helper()
	list, err := s.ListOwnership(context.Background(), fqns, hub, group, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]azeventhubs.Ownership{}
	for _, o := range list {
		if o.FullyQualifiedNamespace != fqns || o.EventHubName != hub || o.ConsumerGroup != group || o.ETag == nil || o.LastModifiedTime.IsZero() {
			t.Fatalf("listed ownership %+v", o)
		}
		m[o.PartitionID] = o
	}
	return m
}

// TestCheckpointStoreContract drives the azeventhubs.CheckpointStore contract against a real
// `tandem serve`: first claims, a competing first claim, a steal with a stale ETag refused,
// a takeover with the current one, racing claimers, a relinquish, checkpoints that read back
// exactly, and everything still there after the server restarts on its data directory.
func TestCheckpointStoreContract(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, c, s := setup(t, dir)

	if o := owners(t, s, azeventhubs.DefaultConsumerGroup); len(o) != 0 {
		t.Fatalf("fresh group has ownership %+v", o)
	}
	if cps, err := s.ListCheckpoints(ctx, fqns, hub, azeventhubs.DefaultConsumerGroup, nil); err != nil || len(cps) != 0 {
		t.Fatalf("fresh group has checkpoints %+v (%v)", cps, err)
	}

	// Processor A claims every partition (no ETag: nobody has claimed them).
	before := time.Now().Add(-time.Minute)
	got, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("0", "A", nil), own("1", "A", nil), own("2", "A", nil), own("3", "A", nil)}, nil)
	if err != nil || len(got) != 4 {
		t.Fatalf("first claims: %+v, %v", got, err)
	}
	etags := map[string]azcore.ETag{}
	for i, o := range got {
		if o.PartitionID != []string{"0", "1", "2", "3"}[i] || o.OwnerID != "A" || o.ETag == nil || *o.ETag == "" || o.LastModifiedTime.Before(before) {
			t.Fatalf("claimed %+v", o)
		}
		etags[o.PartitionID] = *o.ETag
	}
	// B's first claim of a claimed partition loses, silently.
	if got, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("0", "B", nil)}, nil); err != nil || len(got) != 0 {
		t.Fatalf("a competing first claim: %+v, %v", got, err)
	}
	// A renews partition 1; B then steals with the ETag it read before the renewal: refused.
	got, err = s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("1", "A", ptr(etags["1"]))}, nil)
	if err != nil || len(got) != 1 || *got[0].ETag == etags["1"] {
		t.Fatalf("renewal: %+v, %v", got, err)
	}
	stale := etags["1"]
	etags["1"] = *got[0].ETag
	if got, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("1", "B", &stale)}, nil); err != nil || len(got) != 0 {
		t.Fatalf("a steal with a stale ETag: %+v, %v", got, err)
	}
	if o := owners(t, s, azeventhubs.DefaultConsumerGroup)["1"]; o.OwnerID != "A" || *o.ETag != etags["1"] {
		t.Fatalf("after the refused steal partition 1 is %+v", o)
	}
	// With the current ETag B takes it; in a batch with a stale claim, only that one is left out.
	got, err = s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("1", "B", ptr(etags["1"])), own("3", "B", &stale)}, nil)
	if err != nil || len(got) != 1 || got[0].PartitionID != "1" || got[0].OwnerID != "B" {
		t.Fatalf("takeover: %+v, %v", got, err)
	}
	etags["1"] = *got[0].ETag

	// Two processors race for partition 2 with the same ETag: exactly one wins.
	for round := range 5 {
		results := make([][]azeventhubs.Ownership, 2)
		var wg sync.WaitGroup
		for i, who := range []string{"C", "D"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("2", who, ptr(etags["2"]))}, nil)
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		if len(results[0])+len(results[1]) != 1 {
			t.Fatalf("round %d: claims won %+v, want exactly one", round, results)
		}
		w := append(results[0], results[1]...)[0]
		etags["2"] = *w.ETag
		if o := owners(t, s, azeventhubs.DefaultConsumerGroup)["2"]; o.OwnerID != w.OwnerID || *o.ETag != *w.ETag {
			t.Fatalf("round %d: winner %+v, stored %+v", round, w, o)
		}
	}

	// A relinquishes partition 0 (as a Processor does on Close); it stays listed, ownerless.
	if got, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("0", "", ptr(etags["0"]))}, nil); err != nil || len(got) != 1 {
		t.Fatalf("relinquish: %+v, %v", got, err)
	}
	if o := owners(t, s, azeventhubs.DefaultConsumerGroup)["0"]; o.OwnerID != "" {
		t.Fatalf("relinquished partition 0 is %+v", o)
	}

	// Checkpoints read back exactly as set.
	set := []azeventhubs.Checkpoint{
		cp("0", ptr[int64](41), ptr("41")),
		cp("1", ptr[int64](7), nil), // no offset: it reads back without one
		cp("2", ptr[int64](0), ptr("0")),
	}
	for _, c := range set {
		if err := s.SetCheckpoint(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 3 is checkpointed by another client of the group (Kafka, the HTTP API): the
	// next offset to read is 10, so the last processed is sequence number 9, offset "9".
	if _, err := c.SetCheckpoint(ctx, ns, hub, azeventhubs.DefaultConsumerGroup, 3, 10, ""); err != nil {
		t.Fatal(err)
	}
	want := append(set, cp("3", ptr[int64](9), ptr("9")))
	checkCheckpoints(t, s, want)
	// Tandem's own view: the offset of the next event to read.
	if tc, err := c.GetCheckpoint(ctx, ns, hub, azeventhubs.DefaultConsumerGroup, 0); err != nil || tc.Offset != 42 {
		t.Fatalf("Tandem's checkpoint of partition 0: %+v, %v; want offset 42 (after sequence number 41)", tc, err)
	}

	// The SDKs also spell the default group $default.
	if o := owners(t, s, "$default"); len(o) != 4 {
		t.Fatalf("$default lists %d ownerships", len(o))
	}

	// Bad input is an error, not a silent loss.
	if _, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("x", "A", nil)}, nil); err == nil {
		t.Fatal("partition id x was accepted")
	}
	if err := s.SetCheckpoint(ctx, cp("0", nil, nil), nil); err == nil {
		t.Fatal("a checkpoint without a sequence number or offset was accepted")
	}
	if _, err := s.ListOwnership(ctx, fqns, "no-such-hub", azeventhubs.DefaultConsumerGroup, nil); err == nil {
		t.Fatal("the ownership of a missing hub was listed")
	}

	// Everything survives a restart of the server on its data directory.
	wantOwners := owners(t, s, azeventhubs.DefaultConsumerGroup)
	n.stop()
	_, _, s = restart(t, dir)
	gotOwners := owners(t, s, azeventhubs.DefaultConsumerGroup)
	for p, w := range wantOwners {
		g := gotOwners[p]
		if g.OwnerID != w.OwnerID || *g.ETag != *w.ETag || !g.LastModifiedTime.Equal(w.LastModifiedTime) {
			t.Fatalf("after restart partition %s is %+v, was %+v", p, g, w)
		}
	}
	checkCheckpoints(t, s, want)
	// And the stale ETag is still refused, the current one still works.
	if got, err := s.ClaimOwnership(ctx, []azeventhubs.Ownership{own("2", "E", &stale), own("3", "E", ptr(etags["3"]))}, nil); err != nil ||
		len(got) != 1 || got[0].PartitionID != "3" {
		t.Fatalf("claims after restart: %+v, %v", got, err)
	}
}

// restart starts tandem serve again on dir (the hub exists already).
func restart(t *testing.T, dir string) (*node, *client.Client, *tandemcheckpoints.CheckpointStore) {
	t.Helper()
	n := startNode(t, dir)
	c, err := client.New(n.httpURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tandemcheckpoints.NewCheckpointStore(c, ns)
	if err != nil {
		t.Fatal(err)
	}
	return n, c, s
}

func checkCheckpoints(t *testing.T, s *tandemcheckpoints.CheckpointStore, want []azeventhubs.Checkpoint) {
	t.Helper()
	got, err := s.ListCheckpoints(context.Background(), fqns, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].PartitionID < got[j].PartitionID })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("checkpoints:\n got %s\nwant %s", show(got), show(want))
	}
}

func show(cps []azeventhubs.Checkpoint) string {
	out := ""
	for _, c := range cps {
		seq, off := "nil", "nil"
		if c.SequenceNumber != nil {
			seq = strconv.FormatInt(*c.SequenceNumber, 10)
		}
		if c.Offset != nil {
			off = `"` + *c.Offset + `"`
		}
		out += "{" + c.PartitionID + " seq=" + seq + " offset=" + off + "} "
	}
	return out
}
