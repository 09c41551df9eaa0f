package meta

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// A receiver's owner-level claim is checked against the hub, group and partition and changes
// no state (it is read from the log).
func TestClaimOwnerLevel(t *testing.T) {
	s := baseState(t)
	before, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	e := int64(4)
	for _, tc := range []struct {
		name string
		cmd  ClaimOwnerLevel
		code errcode.Code
	}{
		{"a missing group", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "nope", Partition: 0, Node: 1}, errcode.NotFound},
		{"a missing hub", ClaimOwnerLevel{Namespace: ns, Hub: "nope", Group: "billing", Partition: 0, Node: 1}, errcode.NotFound},
		{"a missing partition", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "billing", Partition: 99, Node: 1}, errcode.PartitionNotFound},
		{"a negative partition", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "billing", Partition: -1, Node: 1}, errcode.PartitionNotFound},
		{"a long receiver name", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "billing", Receiver: strings.Repeat("r", MaxReceiverNameBytes+1)}, errcode.InvalidArgument},
		{"a claim with an epoch", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "billing", Partition: 1, Epoch: &e, Node: 2, Receiver: "p", ID: 5}, ""},
		{"a claim without one", ClaimOwnerLevel{Namespace: ns, Hub: "orders", Group: "$Default", Partition: 0, Node: 3, Receiver: "q", ID: 6}, ""},
	} {
		err := s.Apply(s.Index()+1, tc.cmd)
		if tc.code == "" && err != nil || tc.code != "" && !errcode.Is(err, tc.code) {
			t.Fatalf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	after, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The index moved; nothing else did.
	idx := func(i uint64) []byte { return []byte(`"index":` + strconv.FormatUint(i, 10)) }
	if !bytes.Equal(bytes.Replace(before, idx(s.Index()-2), idx(s.Index()), 1), after) {
		t.Fatalf("a claim changed the state:\n%s\n%s", before, after)
	}
}
