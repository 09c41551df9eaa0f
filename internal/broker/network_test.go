package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestIPFilter(t *testing.T) {
	b, err := Open(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "open-ns"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "closed-ns", DefaultAction: "Deny", IPRules: []string{"10.1.0.0/16", "127.0.0.2"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ns, remote string
		ok         bool
	}{
		{"open-ns", "127.0.0.1:5000", true},
		{"closed-ns", "127.0.0.1:5000", false},
		{"closed-ns", "127.0.0.2:5000", true},
		{"closed-ns", "10.1.200.3:9092", true},
		{"closed-ns", "10.2.0.1:9092", false},
		{"closed-ns", "[::ffff:10.1.0.9]:1", true},
		{"closed-ns", "not-an-ip", false},
	}
	for _, c := range cases {
		err := b.CheckClientAddress(c.ns, c.remote)
		if c.ok && err != nil {
			t.Errorf("%s from %s refused: %v", c.ns, c.remote, err)
		}
		if !c.ok && !errcode.Is(err, errcode.Forbidden) {
			t.Errorf("%s from %s: err = %v, want Forbidden", c.ns, c.remote, err)
		}
	}
}
