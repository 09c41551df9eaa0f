package meta

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// TestAliasCommands covers the alias side of a namespace: set, change, the epoch that never
// goes back (fencing), one alias per namespace, clear.
func TestAliasCommands(t *testing.T) {
	s := NewState()
	mustApply := func(c Command) {
		t.Helper()
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatalf("%s: %v", c.Type(), err)
		}
	}
	mustApply(CreateNamespace{Namespace: "orders-west", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0})
	primary := AliasConfig{Name: "orders-alias", Role: RolePrimary, Partner: &Peer{Region: "east", Namespace: "orders-east"},
		Epoch: 1, ProvisioningState: "Succeeded"}
	mustApply(SetAlias{Namespace: "orders-west", Alias: primary, Time: t0})
	n, _ := s.Namespace("orders-west")
	if n.Alias == nil || n.Alias.Role != RolePrimary || !n.Alias.Paired() {
		t.Fatalf("alias after SetAlias: %+v", n.Alias)
	}

	cases := []struct {
		name string
		cmd  Command
		code errcode.Code
	}{
		{"older epoch is fenced", SetAlias{Namespace: "orders-west", Alias: func() AliasConfig { a := primary; a.Epoch = 0; return a }(), Time: t0}, errcode.Conflict},
		{"second alias", SetAlias{Namespace: "orders-west", Alias: func() AliasConfig { a := primary; a.Name = "another-alias"; return a }(), Time: t0}, errcode.Conflict},
		{"bad role", SetAlias{Namespace: "orders-west", Alias: func() AliasConfig { a := primary; a.Role = "Leader"; return a }(), Time: t0}, errcode.InvalidArgument},
		{"bad state", SetAlias{Namespace: "orders-west", Alias: func() AliasConfig { a := primary; a.ProvisioningState = "Done"; return a }(), Time: t0}, errcode.InvalidArgument},
		{"bad name", SetAlias{Namespace: "orders-west", Alias: func() AliasConfig { a := primary; a.Name = "x"; return a }(), Time: t0}, errcode.InvalidArgument},
		{"unknown namespace", SetAlias{Namespace: "nosuch-ns", Alias: primary, Time: t0}, errcode.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := s.MarshalSnapshot()
			err := s.Apply(s.Index()+1, c.cmd)
			if !errcode.Is(err, c.code) {
				t.Fatalf("err = %v, want %s", err, c.code)
			}
			if after, _ := s.MarshalSnapshot(); string(after) != string(before) {
				t.Fatal("a refused command changed the state")
			}
		})
	}

	if err := s.Apply(s.Index()+1, DeleteNamespace{Namespace: "orders-west"}); !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("deleting a paired namespace: %v, want Conflict", err)
	}

	// Failover on the partner raises the epoch; the old primary learns it and stops replicating.
	lost := primary
	lost.Role, lost.Epoch, lost.Lost, lost.Former, lost.Partner = RolePrimaryNotReplicating, 2, true, lost.Partner, nil
	mustApply(SetAlias{Namespace: "orders-west", Alias: lost, Time: t0})
	n, _ = s.Namespace("orders-west")
	if n.Alias.Paired() || n.Alias.Active() || n.Alias.Epoch != 2 || n.Alias.ActivePeer().Namespace != "orders-east" {
		t.Fatalf("alias after losing it: %+v", n.Alias)
	}
	mustApply(ClearAlias{Namespace: "orders-west", Time: t0})
	if n, _ = s.Namespace("orders-west"); n.Alias != nil {
		t.Fatalf("alias after ClearAlias: %+v", n.Alias)
	}
	if err := s.Apply(s.Index()+1, ClearAlias{Namespace: "orders-west", Time: t0}); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("second ClearAlias: %v", err)
	}
}
