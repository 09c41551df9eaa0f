package geodr

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestCheckPairing(t *testing.T) {
	p := NamespaceFacts{Region: "west", Name: "orders-west", Tier: "standard", EventHubs: 3}
	s := NamespaceFacts{Region: "east", Name: "orders-east", Tier: "standard"}
	with := func(f NamespaceFacts, mod func(*NamespaceFacts)) NamespaceFacts { mod(&f); return f }
	cases := []struct {
		name       string
		p, s       NamespaceFacts
		taken      bool
		code       errcode.Code
		msgContain string
	}{
		{"standard to standard", p, s, false, "", ""},
		{"standard to dedicated", p, with(s, func(f *NamespaceFacts) { f.Tier = "dedicated"; f.Cluster = "c2" }), false, "", ""},
		{"premium to premium", with(p, func(f *NamespaceFacts) { f.Tier = "premium" }), with(s, func(f *NamespaceFacts) { f.Tier = "premium" }), false, "", ""},
		{"premium to standard", with(p, func(f *NamespaceFacts) { f.Tier = "premium" }), s, false, errcode.InvalidArgument, "premium primary pairs with premium"},
		{"dedicated to standard", with(p, func(f *NamespaceFacts) { f.Tier = "dedicated"; f.Cluster = "c1" }), s, false, errcode.InvalidArgument, "dedicated primary pairs with dedicated"},
		{"basic never", with(p, func(f *NamespaceFacts) { f.Tier = "basic" }), s, false, errcode.InvalidArgument, "standard, premium or dedicated"},
		{"standard to basic", p, with(s, func(f *NamespaceFacts) { f.Tier = "basic" }), false, errcode.InvalidArgument, "standard primary pairs with standard or dedicated"},
		{"same dedicated cluster",
			with(p, func(f *NamespaceFacts) { f.Tier = "dedicated"; f.Cluster = "c1" }),
			with(s, func(f *NamespaceFacts) { f.Tier = "dedicated"; f.Cluster = "c1" }), false, errcode.InvalidArgument, "same dedicated cluster"},
		{"secondary has hubs", p, with(s, func(f *NamespaceFacts) { f.EventHubs = 2 }), false, errcode.Conflict, "new, empty secondary"},
		{"secondary has groups", p, with(s, func(f *NamespaceFacts) { f.ConsumerGroups = 1 }), false, errcode.Conflict, "new, empty secondary"},
		{"private endpoints", with(p, func(f *NamespaceFacts) { f.PrivateEndpoints = 1 }), s, false, errcode.InvalidArgument, "private endpoint"},
		{"private endpoints on both", with(p, func(f *NamespaceFacts) { f.PrivateEndpoints = 1 }), with(s, func(f *NamespaceFacts) { f.PrivateEndpoints = 1 }), false, "", ""},
		{"alias taken", p, s, true, errcode.AlreadyExists, "already in use"},
		{"primary already paired", with(p, func(f *NamespaceFacts) { f.Alias = "other" }), s, false, errcode.Conflict, "only one pairing"},
		{"secondary already paired", p, with(s, func(f *NamespaceFacts) { f.Alias = "other" }), false, errcode.Conflict, "only one pairing"},
		{"same region", p, with(s, func(f *NamespaceFacts) { f.Region = "west" }), false, errcode.InvalidArgument, "two regions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPairing("orders", c.p, c.s, c.taken)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errcode.Is(err, c.code) || !strings.Contains(err.Error(), c.msgContain) {
				t.Fatalf("err = %v (%s), want %s containing %q", err, errcode.CodeOf(err), c.code, c.msgContain)
			}
		})
	}
}
