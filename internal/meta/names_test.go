package meta

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// The audit's L4: ".", ".." and "..." were accepted as hub, rule and group names. New names
// must start and end with a letter or digit, as in Event Hubs.
func TestAuditL4_NewNamesStartAndEndWithLetterOrDigit(t *testing.T) {
	bad := []string{".", "..", "...", ".hidden", "trailing.", "-dash", "dash-", "_schemas", "__consumer_offsets", "under_"}
	for _, name := range bad {
		for _, c := range []Command{
			CreateHub{Namespace: ns, Hub: name, Time: t0},
			CreateGroup{Namespace: ns, Hub: "orders", Group: name, Time: t0},
			CommitOffsets{Namespace: ns, Group: name, Hub: "orders", Offsets: []PartitionOffset{{0, 1, ""}}, Time: t0},
			PutPolicy{Namespace: ns, Name: name, Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
			PutPolicy{Namespace: ns, Hub: "orders", Name: name, Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
		} {
			s := baseState(t)
			err := s.Check(c)
			if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "must start and end with a letter or digit") ||
				!strings.Contains(err.Error(), `"`+name+`"`) {
				t.Errorf("%s %q: %v, want InvalidArgument naming it and the start/end rule", c.Type(), name, err)
			}
		}
	}
	s := baseState(t)
	for _, c := range []Command{
		CreateHub{Namespace: ns, Hub: "a", Time: t0},
		CreateHub{Namespace: ns, Hub: "9", Time: t0},
		CreateHub{Namespace: ns, Hub: "a.b-c_d", Time: t0},
		CreateGroup{Namespace: ns, Hub: "orders", Group: "g.1-x_2", Time: t0},
		CommitOffsets{Namespace: ns, Group: DefaultGroup, Hub: "orders", Offsets: []PartitionOffset{{0, 1, ""}}, Time: t0},
		PutPolicy{Namespace: ns, Name: "listen.only", Rights: auth.Rights{auth.Listen}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
	} {
		if err := s.Check(c); err != nil {
			t.Errorf("legitimate %s refused: %v", c.Type(), err)
		} else if err := s.Apply(s.Index()+1, c); err != nil {
			t.Errorf("legitimate %s does not apply: %v", c.Type(), err)
		}
	}
}

// The audit's H4: names that differ only in case were separate entities. A new one is now
// refused with Conflict naming the existing entity, for every kind of entity.
func TestAuditH4_CaseVariantsRefused(t *testing.T) {
	cases := []struct {
		cmd      Command
		existing string
	}{
		{CreateNamespace{Namespace: "ORDERS-NS", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0}, `namespace "orders-ns"`},
		{CreateHub{Namespace: ns, Hub: "ORDERS", Time: t0}, `event hub "orders" in namespace orders-ns`},
		{CreateHub{Namespace: ns, Hub: "Orders", PartitionCount: 1024, Time: t0}, `event hub "orders"`},
		{CreateGroup{Namespace: ns, Hub: "orders", Group: "BILLING", Time: t0}, `consumer group "billing" on event hub orders-ns/orders`},
		{CommitOffsets{Namespace: ns, Group: "Billing", Hub: "orders", Offsets: []PartitionOffset{{0, 1, ""}}, Time: t0}, `consumer group "billing"`},
		{PutPolicy{Namespace: ns, Name: "rootmanagesharedaccesskey", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
			`shared access policy "RootManageSharedAccessKey" on namespace orders-ns`},
		{PutPolicy{Namespace: ns, Hub: "orders", Name: "SENDER", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
			`shared access policy "sender" on event hub orders-ns/orders`},
	}
	for _, tc := range cases {
		s := baseState(t)
		before := snap(t, s)
		err := s.Check(tc.cmd)
		if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), tc.existing) || !strings.Contains(err.Error(), "case-insensitive") {
			t.Errorf("%s: %v, want Conflict naming the existing %s", tc.cmd.Type(), err, tc.existing)
		}
		if !bytes.Equal(before, snap(t, s)) {
			t.Errorf("%s: a refused check changed the state", tc.cmd.Type())
		}
	}
	// Exact names keep their own answers: a duplicate is AlreadyExists, an update applies.
	s := baseState(t)
	if err := s.Check(CreateHub{Namespace: ns, Hub: "orders"}); !errcode.Is(err, errcode.AlreadyExists) {
		t.Errorf("exact duplicate hub: %v, want AlreadyExists", err)
	}
	if err := s.Check(PutPolicy{Namespace: ns, Hub: "orders", Name: "sender", Rights: auth.Rights{auth.Listen}, Time: t1}); err != nil {
		t.Errorf("updating policy sender: %v", err)
	}
	if err := s.Check(CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Offsets: []PartitionOffset{{1, 5, ""}}, Time: t1}); err != nil {
		t.Errorf("committing for the existing group billing: %v", err)
	}
}

// oldLog is a log written before the name rules: case variants and dot names.
func oldLog() []Command {
	return append(baseCommands(),
		CreateHub{Namespace: ns, Hub: "ORDERS", Time: t0},
		CreateHub{Namespace: ns, Hub: "..", Time: t0},
		CreateGroup{Namespace: ns, Hub: "orders", Group: "BILLING", Time: t0},
		CreateGroup{Namespace: ns, Hub: "orders", Group: "..", Time: t0},
		PutPolicy{Namespace: ns, Name: "...", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
		CreateNamespace{Namespace: "ORDERS-NS", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
	)
}

// A metadata log that already holds case variants and dot names replays; the variants stay
// separate entities reached by their exact names; none can be created again; each can be
// deleted.
func TestAuditH4_OldLogWithVariantsStillReplays(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, 0)
	ctx := context.Background()
	var entries []Entry
	for i, c := range oldLog() {
		entries = append(entries, Entry{Index: uint64(i + 1), Command: c})
	}
	if err := st.Apply(ctx, entries); err != nil { // entries written elsewhere: replay rules only
		t.Fatalf("writing the old log: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir, 0)
	defer st.Close()
	st.View(func(s *State) {
		hubs, _ := s.Hubs(ns)
		if strings.Join(hubs, ",") != "..,ORDERS,orders" {
			t.Errorf("hubs after replay: %v", hubs)
		}
		if _, err := s.Group(ns, "orders", "BILLING"); err != nil {
			t.Errorf("group BILLING after replay: %v", err)
		}
		if _, err := s.Hub(ns, "Orders"); !errcode.Is(err, errcode.NotFound) {
			t.Errorf("lookup of Orders: %v, want NotFound (lookups are exact)", err)
		}
	})
	if _, err := st.Propose(ctx, CreateHub{Namespace: ns, Hub: "Orders", Time: t1}); !errcode.Is(err, errcode.Conflict) {
		t.Errorf("creating a third variant: %v, want Conflict", err)
	}
	if _, err := st.Propose(ctx, CreateHub{Namespace: ns, Hub: "...", Time: t1}); !errcode.Is(err, errcode.InvalidArgument) {
		t.Errorf("creating hub ...: %v, want InvalidArgument", err)
	}
	for _, c := range []Command{
		DeleteHub{Namespace: ns, Hub: "ORDERS"},
		DeleteHub{Namespace: ns, Hub: ".."},
		DeleteGroup{Namespace: ns, Hub: "orders", Group: ".."},
		DeletePolicy{Namespace: ns, Name: "...", Time: t1},
		UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 8, Time: t1},
	} {
		if _, err := st.Propose(ctx, c); err != nil {
			t.Errorf("%s on an old name: %v", c.Type(), err)
		}
	}
}

// Geo-DR: a secondary mirrors what its primary accepted (a primary on older code may hold
// such names), and replicated changes are still checked against the secondary's state.
func TestAuditL4_ReplicatedChangesMirrorThePrimary(t *testing.T) {
	st := openStore(t, t.TempDir(), 0)
	defer st.Close()
	ctx := context.Background()
	for _, c := range append(baseCommands(), SetAlias{Namespace: ns, Alias: AliasConfig{Name: "the-alias", Role: RoleSecondary, Epoch: 1,
		Partner: &Peer{Namespace: "p"}, ProvisioningState: ProvisioningSucceeded}, Time: t0}) {
		if _, err := st.Propose(ctx, c); err != nil {
			t.Fatalf("setup %s: %v", c.Type(), err)
		}
	}
	rep := func(through uint64, c Command) error {
		_, err := st.Propose(ctx, Replicated{Namespace: ns, Alias: "the-alias", Through: through, Command: c})
		return err
	}
	if err := rep(10, CreateHub{Namespace: ns, Hub: "..", Time: t0}); err != nil {
		t.Errorf("replicating the primary's hub ..: %v", err)
	}
	if err := rep(11, CreateHub{Namespace: ns, Hub: "ORDERS", Time: t0}); err != nil {
		t.Errorf("replicating the primary's hub ORDERS: %v", err)
	}
	if err := rep(12, CreateHub{Namespace: ns, Hub: "a/b", Time: t0}); !errcode.Is(err, errcode.InvalidArgument) {
		t.Errorf("replicating hub a/b: %v, want InvalidArgument (replicated changes are re-validated)", err)
	}
	if err := rep(13, CreateHub{Namespace: ns, Hub: "orders", Time: t0}); !errcode.Is(err, errcode.AlreadyExists) {
		t.Errorf("replicating an existing hub: %v, want AlreadyExists", err)
	}
}
