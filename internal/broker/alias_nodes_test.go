package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// TestAliasKafkaNodes: an alias client whose alias is active in the other region gets that
// region's brokers in Metadata: every node of a cluster region (with its zone as rack), the
// one listener of a single node; a client of an alias active here, or of the namespace
// itself, gets this node.
func TestAliasKafkaNodes(t *testing.T) {
	b, err := Open(context.Background(), Options{DataDir: t.TempDir(), NodeID: 7, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	cluster := &meta.Peer{Region: "east", Namespace: "ns-east", Kafka: []string{"127.0.0.1:9092"}, NodeID: 1,
		Nodes: []meta.PeerNode{{ID: 1, Kafka: "127.0.0.1:9092", Zone: "a"}, {ID: 2, Kafka: "127.0.0.2:9092", Zone: "b"},
			{ID: 3, Kafka: "127.0.0.3:9093", Zone: "c"}, {ID: 4, Kafka: "no port"}}}
	single := &meta.Peer{Region: "east", Namespace: "ns-east", Kafka: []string{"10.0.0.1:9092"}, NodeID: 5}
	self := []Node{{NodeID: 7, Host: "127.0.0.9", Port: 9000}}
	for _, tc := range []struct {
		name  string
		alias *meta.AliasConfig // on namespace ns-west
		p     Principal
		want  []Node
	}{
		{"secondary of a cluster region", &meta.AliasConfig{Name: "alias-a", Role: meta.RoleSecondary, Partner: cluster},
			Principal{Namespace: "ns-west", Alias: "alias-a"},
			[]Node{{1, "127.0.0.1", 9092, "a"}, {2, "127.0.0.2", 9092, "b"}, {3, "127.0.0.3", 9093, "c"}}},
		{"secondary of a single node", &meta.AliasConfig{Name: "alias-a", Role: meta.RoleSecondary, Partner: single},
			Principal{Namespace: "ns-west", Alias: "alias-a"}, []Node{{5, "10.0.0.1", 9092, ""}}},
		{"lost to a cluster region", &meta.AliasConfig{Name: "alias-a", Role: meta.RolePrimaryNotReplicating, Lost: true, Former: cluster},
			Principal{Namespace: "ns-west", Alias: "alias-a"},
			[]Node{{1, "127.0.0.1", 9092, "a"}, {2, "127.0.0.2", 9092, "b"}, {3, "127.0.0.3", 9093, "c"}}},
		{"active here", &meta.AliasConfig{Name: "alias-a", Role: meta.RolePrimary, Partner: cluster},
			Principal{Namespace: "ns-west", Alias: "alias-a"}, self},
		{"namespace client", &meta.AliasConfig{Name: "alias-a", Role: meta.RoleSecondary, Partner: cluster},
			Principal{Namespace: "ns-west"}, self},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "ns-west"}); err != nil && tc.name == "secondary of a cluster region" {
				t.Fatal(err)
			}
			tc.alias.ProvisioningState, tc.alias.Epoch = meta.ProvisioningSucceeded, 1
			if err := b.propose(ctx, meta.SetAlias{Namespace: "ns-west", Alias: *tc.alias, Time: b.now()}); err != nil {
				t.Fatal(err)
			}
			got := b.KafkaNodes(tc.p, "127.0.0.9", 9000)
			if len(got) != len(tc.want) {
				t.Fatalf("KafkaNodes = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("node %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
