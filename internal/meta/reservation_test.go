package meta

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// TestRetireAliasReservesName: retiring a lost alias clears it and reserves its name for the
// pairing (the holder, the link keys' derived keys, the namespace's incarnation); a namespace
// of that name is refused as a new name; the reservation survives a snapshot and goes away
// only by ReleaseAlias.
func TestRetireAliasReservesName(t *testing.T) {
	s := NewState()
	mustApply := func(c Command) {
		t.Helper()
		if err := s.Check(c); err != nil {
			t.Fatalf("%s: %v", c.Type(), err)
		}
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatalf("%s: %v", c.Type(), err)
		}
	}
	mustApply(CreateNamespace{Namespace: "orders-west", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0})
	holder := &Peer{Region: "east", Namespace: "orders-east", Endpoint: "http://127.0.0.1:1"}
	lost := AliasConfig{Name: "Orders-Alias", Role: RolePrimaryNotReplicating, Epoch: 2, Lost: true, Former: holder,
		LinkKey: "link-key-1", ProvisioningState: ProvisioningSucceeded}
	mustApply(SetAlias{Namespace: "orders-west", Alias: lost, Time: t0})
	mustApply(RetireAlias{Namespace: "orders-west", Time: t0})

	if n, _ := s.Namespace("orders-west"); n.Alias != nil {
		t.Fatalf("alias after RetireAlias: %+v", n.Alias)
	}
	r, ok := s.AliasReservation("orders-alias")
	want := AliasReservation{Alias: "Orders-Alias", Namespace: "orders-west", NamespaceCreatedAt: t0, Partner: holder,
		Keys: []string{ReservationKey("link-key-1")}, Epoch: 2, CreatedAt: t0}
	if !ok || !reflect.DeepEqual(r, want) {
		t.Fatalf("reservation = %+v, %v; want %+v", r, ok, want)
	}
	if slices.Contains(r.Keys, "link-key-1") || ReservationKey("") != "" {
		t.Fatal("the reservation keeps the link key itself, or derives a key from no key")
	}
	err := s.Check(CreateNamespace{Namespace: "orders-ALIAS", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0})
	if !errcode.Is(err, errcode.Conflict) || !bytes.Contains([]byte(err.Error()), []byte("--release")) {
		t.Fatalf("a namespace named like the reserved alias: %v, want Conflict naming --release", err)
	}

	snap, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.AliasReservations(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("reservations after a snapshot: %+v", got)
	}

	mustApply(ReleaseAlias{Alias: "ORDERS-alias", Time: t0})
	if _, ok := s.AliasReservation("orders-alias"); ok {
		t.Fatal("the reservation is still there after ReleaseAlias")
	}
	if err := s.Apply(s.Index()+1, ReleaseAlias{Alias: "orders-alias", Time: t0}); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("releasing a name that is not reserved: %v, want NotFound", err)
	}
	if err := s.Apply(s.Index()+1, RetireAlias{Namespace: "orders-west", Time: t0}); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("retiring with no alias: %v, want NotFound", err)
	}
}

// TestOldLogReplaysWithoutReservations: a log of commands from before reservations (ClearAlias
// deletes an alias) replays to a state without any, whose snapshot has no reservation field,
// byte for byte what older code wrote.
func TestOldLogReplaysWithoutReservations(t *testing.T) {
	s := NewState()
	for i, c := range []Command{
		CreateNamespace{Namespace: "orders-west", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
		SetAlias{Namespace: "orders-west", Alias: AliasConfig{Name: "orders-alias", Role: RolePrimaryNotReplicating, Epoch: 1,
			LinkKey: "k", ProvisioningState: ProvisioningSucceeded}, Time: t0},
		ClearAlias{Namespace: "orders-west", Time: t0},
		CreateNamespace{Namespace: "orders-alias", RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
	} {
		if err := s.Apply(uint64(i+1), c); err != nil {
			t.Fatalf("replaying %s: %v", c.Type(), err)
		}
	}
	if rs := s.AliasReservations(); len(rs) != 0 {
		t.Fatalf("an old log left reservations: %+v", rs)
	}
	snap, _ := s.MarshalSnapshot()
	if bytes.Contains(snap, []byte("aliasReservations")) {
		t.Fatalf("a snapshot without reservations names them: %s", snap)
	}
}
