package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// openSingle runs a single node on dir with one event hub, and stops it.
func openSingle(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	b, err := Open(ctx, Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, DevNamespace, HubSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// openMember starts a cluster member on dir with the given --cluster list.
func openMember(t *testing.T, dir, members string) (*Broker, error) {
	t.Helper()
	cfg, _, err := cluster.ParseConfig(1, "", members, []byte("0123456789abcdef-secret"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler), Cluster: n})
	if err != nil {
		n.Close()
		return nil, err
	}
	return b, nil
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestClusterRefusesSingleNodeDataInAMultiMemberCluster(t *testing.T) {
	dir := t.TempDir()
	openSingle(t, dir)
	p := freePort(t)
	members := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.1:%d,3=c@127.0.0.1:%d", p, p+1, p+2)
	b, err := openMember(t, dir, members)
	if err == nil {
		b.Close()
		t.Fatal("a member of a 3-node cluster started on a single node's data directory")
	}
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "start it as a one-node cluster") {
		t.Fatalf("the refusal does not say what to do: %v", err)
	}
	// The single node's data is untouched: it starts again as a single node with its hub.
	b, err = Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Hub(DevNamespace, "orders"); err != nil {
		t.Fatalf("the single node lost its hub after the refusal: %v", err)
	}
}
