package meta

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

var (
	t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

const (
	key1 = "k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k="
	key2 = "k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k="
	key3 = "k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k3k="
	ns   = "orders-ns"
)

// baseCommands builds a namespace with hub "orders" (4 partitions), group "billing" with a
// checkpoint on partition 0, and a hub-level Send policy.
func baseCommands() []Command {
	return []Command{
		CreateNamespace{Namespace: ns, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
		CreateHub{Namespace: ns, Hub: "orders", PartitionCount: 4, Time: t0},
		CreateGroup{Namespace: ns, Hub: "orders", Group: "billing", Time: t0},
		CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Offsets: []PartitionOffset{{0, 10, "m"}}, Time: t0},
		PutPolicy{Namespace: ns, Hub: "orders", Name: "sender", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
	}
}

func baseState(t *testing.T) *State {
	t.Helper()
	s := NewState()
	for i, c := range baseCommands() {
		if err := s.Apply(uint64(i+1), c); err != nil {
			t.Fatalf("setup command %d (%s): %v", i+1, c.Type(), err)
		}
	}
	return s
}

func snap(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

type stateCase struct {
	name    string
	cmd     Command
	code    errcode.Code // "" means success
	msg     string       // substring of the error
	checkFn func(t *testing.T, s *State)
}

func runStateCases(t *testing.T, cases []stateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := baseState(t)
			before := snap(t, s)
			if err := s.Check(tc.cmd); errcode.CodeOf(err) != tc.code {
				t.Fatalf("Check: %v; want code %q", err, tc.code)
			}
			next := s.Index() + 1
			err := s.Apply(next, tc.cmd)
			if tc.code != "" {
				if !errcode.Is(err, tc.code) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("Apply: %v; want %s containing %q", err, tc.code, tc.msg)
				}
				if !bytes.Equal(before, snap(t, s)) {
					t.Fatal("a failed command changed the state")
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if s.Index() != next {
				t.Fatalf("Index() = %d, want %d", s.Index(), next)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, s)
			}
		})
	}
}

func TestNamespaceCommands(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "create", cmd: CreateNamespace{Namespace: "ns-two2", Tier: Premium, Labels: map[string]string{"a": "b"},
			NetworkRules:   NetworkRules{IPRules: []IPRule{{CIDR: "10.0.0.0/8"}}, PrivateEndpoints: []string{"10.1.0.4:9093"}},
			RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t1},
			checkFn: func(t *testing.T, s *State) {
				n, err := s.Namespace("ns-two2")
				if err != nil {
					t.Fatal(err)
				}
				p := n.Policies[RootPolicyName]
				if n.Tier != Premium || p == nil || p.Rights.String() != "Manage,Send,Listen" || p.PrimaryKey != key1 ||
					n.NetworkRules.DefaultAction != Allow || n.NetworkRules.IPRules[0].Action != Allow ||
					n.Labels["a"] != "b" || !n.CreatedAt.Equal(t1) {
					t.Fatalf("namespace %+v", n)
				}
				if got := s.Namespaces(); len(got) != 2 || got[1] != ns {
					t.Fatalf("Namespaces() = %v", got)
				}
			}},
		{name: "create dev namespace", cmd: CreateNamespace{Namespace: "default", RootPrimaryKey: key1, RootSecondaryKey: key2}},
		{name: "create duplicate", cmd: CreateNamespace{Namespace: ns, RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.AlreadyExists, msg: `namespace "orders-ns" already exists`},
		{name: "create short name", cmd: CreateNamespace{Namespace: "ns1", RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.InvalidArgument, msg: "6 to 50 letters"},
		{name: "create name ending in hyphen", cmd: CreateNamespace{Namespace: "orders-", RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.InvalidArgument, msg: "ending with a letter or digit"},
		{name: "create name starting with digit", cmd: CreateNamespace{Namespace: "1orders", RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.InvalidArgument, msg: "starting with a letter"},
		{name: "create bad tier", cmd: CreateNamespace{Namespace: "ns-two2", Tier: "gold", RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.InvalidArgument, msg: `tier "gold" is invalid`},
		{name: "create cluster on standard", cmd: CreateNamespace{Namespace: "ns-two2", Cluster: "c1", RootPrimaryKey: key1, RootSecondaryKey: key2},
			code: errcode.InvalidArgument, msg: "only dedicated namespaces"},
		{name: "create bad ip rule", cmd: CreateNamespace{Namespace: "ns-two2", NetworkRules: NetworkRules{IPRules: []IPRule{{CIDR: "10.0.0/8"}}},
			RootPrimaryKey: key1, RootSecondaryKey: key2}, code: errcode.InvalidArgument, msg: `IP rule "10.0.0/8"`},
		{name: "create bad endpoint", cmd: CreateNamespace{Namespace: "ns-two2", NetworkRules: NetworkRules{PrivateEndpoints: []string{"10.0.0.1"}},
			RootPrimaryKey: key1, RootSecondaryKey: key2}, code: errcode.InvalidArgument, msg: "not a listener address"},
		{name: "create bad default action", cmd: CreateNamespace{Namespace: "ns-two2", NetworkRules: NetworkRules{DefaultAction: "Block"},
			RootPrimaryKey: key1, RootSecondaryKey: key2}, code: errcode.InvalidArgument, msg: "use Allow or Deny"},
		{name: "create without keys", cmd: CreateNamespace{Namespace: "ns-two2"},
			code: errcode.InvalidArgument, msg: "RootManageSharedAccessKey primary key must be"},
		{name: "update", cmd: UpdateNamespace{Namespace: ns, Tier: Basic, NetworkRules: &NetworkRules{DefaultAction: Deny},
			SetLabels: map[string]string{"geo": "primary"}, Time: t1},
			checkFn: func(t *testing.T, s *State) {
				n, _ := s.Namespace(ns)
				if n.Tier != Basic || n.NetworkRules.DefaultAction != Deny || n.Labels["geo"] != "primary" || !n.UpdatedAt.Equal(t1) {
					t.Fatalf("namespace %+v", n)
				}
			}},
		{name: "update unknown", cmd: UpdateNamespace{Namespace: "nowhere1"}, code: errcode.NotFound,
			msg: `namespace "nowhere1" not found; create it with 'tandem namespace create nowhere1'`},
		{name: "update to premium", cmd: UpdateNamespace{Namespace: ns, Tier: Premium}, code: errcode.Conflict,
			msg: "standard tier and cannot change to premium"},
		{name: "update bad rules", cmd: UpdateNamespace{Namespace: ns, NetworkRules: &NetworkRules{IPRules: []IPRule{{CIDR: "1.2.3.4", Action: "Maybe"}}}},
			code: errcode.InvalidArgument, msg: `IP rule action "Maybe"`},
		{name: "delete", cmd: DeleteNamespace{Namespace: ns}, checkFn: func(t *testing.T, s *State) {
			if _, err := s.Namespace(ns); !errcode.Is(err, errcode.NotFound) {
				t.Fatalf("namespace still there: %v", err)
			}
		}},
		{name: "delete unknown", cmd: DeleteNamespace{Namespace: "nowhere1"}, code: errcode.NotFound, msg: "nowhere1"},
	})
}

func TestLabels(t *testing.T) {
	s := baseState(t)
	for i, c := range []Command{
		UpdateNamespace{Namespace: ns, SetLabels: map[string]string{"a": "1", "b": "2"}},
		UpdateNamespace{Namespace: ns, DeleteLabels: []string{"a", "b"}},
	} {
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if n, _ := s.Namespace(ns); n.Labels != nil {
		t.Fatalf("labels %v after deleting all", n.Labels)
	}
}

func TestPolicyCommands(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "put namespace policy", cmd: PutPolicy{Namespace: ns, Name: "listen", Rights: auth.Rights{auth.Listen}, PrimaryKey: key1, SecondaryKey: key2},
			checkFn: func(t *testing.T, s *State) {
				p, err := s.Policy(ns, "", "listen")
				if err != nil || !p.Rights.Has(auth.Listen) || p.Rights.Has(auth.Send) {
					t.Fatalf("policy %+v %v", p, err)
				}
			}},
		{name: "update rights keeps keys", cmd: PutPolicy{Namespace: ns, Hub: "orders", Name: "sender", Rights: auth.Rights{auth.Manage}, Time: t1},
			checkFn: func(t *testing.T, s *State) {
				p, _ := s.Policy(ns, "orders", "sender")
				h, _ := s.Hub(ns, "orders")
				if p.Rights.String() != "Manage,Send,Listen" || p.PrimaryKey != key1 || p.SecondaryKey != key2 || !h.UpdatedAt.Equal(t1) {
					t.Fatalf("policy %+v, hub updated %v", p, h.UpdatedAt)
				}
			}},
		{name: "put without keys", cmd: PutPolicy{Namespace: ns, Name: "listen", Rights: auth.Rights{auth.Listen}},
			code: errcode.InvalidArgument, msg: "primary key of policy listen"},
		{name: "put bad right", cmd: PutPolicy{Namespace: ns, Name: "x", Rights: auth.Rights{"Read"}, PrimaryKey: key1, SecondaryKey: key2},
			code: errcode.InvalidArgument, msg: `access right "Read"`},
		{name: "put bad name", cmd: PutPolicy{Namespace: ns, Name: "a b", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2},
			code: errcode.InvalidArgument, msg: `shared access policy name "a b"`},
		{name: "put on unknown hub", cmd: PutPolicy{Namespace: ns, Hub: "nope", Name: "x", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2},
			code: errcode.NotFound, msg: `event hub "nope" not found in namespace "orders-ns"; create it with 'tandem hub create orders-ns/nope'`},
		{name: "delete", cmd: DeletePolicy{Namespace: ns, Hub: "orders", Name: "sender"}, checkFn: func(t *testing.T, s *State) {
			if _, err := s.Policy(ns, "orders", "sender"); !errcode.Is(err, errcode.NotFound) {
				t.Fatal(err)
			}
		}},
		{name: "delete unknown", cmd: DeletePolicy{Namespace: ns, Name: "sender"}, code: errcode.NotFound,
			msg: `policy "sender" not found on namespace orders-ns`},
		{name: "regenerate", cmd: RegenerateKey{Namespace: ns, Name: RootPolicyName, KeyType: SecondaryKey, Key: key3},
			checkFn: func(t *testing.T, s *State) {
				p, _ := s.Policy(ns, "", RootPolicyName)
				if p.PrimaryKey != key1 || p.SecondaryKey != key3 {
					t.Fatalf("policy %+v", p)
				}
			}},
		{name: "regenerate bad type", cmd: RegenerateKey{Namespace: ns, Name: RootPolicyName, KeyType: "Third", Key: key3},
			code: errcode.InvalidArgument, msg: "use PrimaryKey or SecondaryKey"},
		{name: "regenerate short key", cmd: RegenerateKey{Namespace: ns, Name: RootPolicyName, KeyType: PrimaryKey, Key: "short"},
			code: errcode.InvalidArgument, msg: "16 to 256 characters"},
	})
}

func TestPolicyLimit(t *testing.T) {
	s := baseState(t)
	for i := 1; i < MaxPolicies; i++ {
		c := PutPolicy{Namespace: ns, Name: "p" + string(rune('a'+i)), Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2}
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Apply(s.Index()+1, PutPolicy{Namespace: ns, Name: "one-more", Rights: auth.Rights{auth.Send}, PrimaryKey: key1, SecondaryKey: key2})
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "already has 12 shared access policies") {
		t.Fatal(err)
	}
}

func TestApplyIndexMustIncrease(t *testing.T) {
	s := baseState(t)
	err := s.Apply(s.Index(), DeleteHub{Namespace: ns, Hub: "orders"})
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "not after the last applied index 5") {
		t.Fatal(err)
	}
	if err := s.Apply(100, DeleteHub{Namespace: ns, Hub: "orders"}); err != nil || s.Index() != 100 {
		t.Fatalf("Apply at a later index: %v, index %d", err, s.Index())
	}
	if err := s.Check(nil); !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatal(err)
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	s := baseState(t)
	before := snap(t, s)
	n, _ := s.Namespace(ns)
	n.Hubs["orders"].Groups["x"] = &ConsumerGroup{}
	n.Policies[RootPolicyName].Rights[0] = "Nothing"
	n.Offsets["billing"]["orders"][0] = Checkpoint{Offset: 99}
	h, _ := s.Hub(ns, "orders")
	h.PartitionCount = 1
	o, _ := s.Offsets(ns, "billing", "orders")
	o[1] = Checkpoint{}
	if !bytes.Equal(before, snap(t, s)) {
		t.Fatal("modifying a returned copy changed the state")
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := baseState(t)
	b := snap(t, s)
	s2, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Index() != s.Index() || !bytes.Equal(b, snap(t, s2)) {
		t.Fatal("snapshot did not round-trip")
	}
	// The restored state keeps working.
	if err := s2.Apply(s2.Index()+1, CreateHub{Namespace: ns, Hub: "more"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"{", `{"v":9}`, `{"v":1,"namespaces":{"a":{"name":"b"}}}`} {
		if _, err := UnmarshalSnapshot([]byte(bad)); err == nil {
			t.Errorf("UnmarshalSnapshot(%s) succeeded", bad)
		}
	}
}
