package meta

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestHubCommands(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "create with defaults", cmd: CreateHub{Namespace: ns, Hub: "clicks", Time: t1}, checkFn: func(t *testing.T, s *State) {
			h, err := s.Hub(ns, "clicks")
			if err != nil {
				t.Fatal(err)
			}
			if h.PartitionCount != 4 || h.RetentionTime != 24*time.Hour || h.RetentionBytes != 0 || h.MaxEventBytes != 1048576 ||
				h.Status != Active || h.Groups[DefaultGroup] == nil || !h.CreatedAt.Equal(t1) {
				t.Fatalf("hub %+v", h)
			}
			if hubs, _ := s.Hubs(ns); strings.Join(hubs, ",") != "clicks,orders" {
				t.Fatalf("Hubs() = %v", hubs)
			}
		}},
		{name: "create explicit", cmd: CreateHub{Namespace: ns, Hub: "a.b-c_d", PartitionCount: 1024, RetentionTime: 90 * 24 * time.Hour,
			RetentionBytes: 1 << 30, MaxEventBytes: 1024, Status: SendDisabled}},
		{name: "create duplicate", cmd: CreateHub{Namespace: ns, Hub: "orders"}, code: errcode.AlreadyExists,
			msg: `event hub "orders" already exists in namespace "orders-ns"`},
		{name: "create in unknown namespace", cmd: CreateHub{Namespace: "nowhere1", Hub: "x"}, code: errcode.NotFound, msg: "nowhere1"},
		{name: "create too many partitions", cmd: CreateHub{Namespace: ns, Hub: "x", PartitionCount: 2000}, code: errcode.InvalidArgument,
			msg: "partition count 2000 is out of range; an event hub has 1 to 1024 partitions"},
		{name: "create negative partitions", cmd: CreateHub{Namespace: ns, Hub: "x", PartitionCount: -1}, code: errcode.InvalidArgument, msg: "partition count -1"},
		{name: "create retention too long", cmd: CreateHub{Namespace: ns, Hub: "x", RetentionTime: 91 * 24 * time.Hour}, code: errcode.InvalidArgument,
			msg: "retention time 2184h0m0s is out of range"},
		{name: "create retention too short", cmd: CreateHub{Namespace: ns, Hub: "x", RetentionTime: time.Minute}, code: errcode.InvalidArgument, msg: "retention time 1m0s"},
		{name: "create negative size", cmd: CreateHub{Namespace: ns, Hub: "x", RetentionBytes: -1}, code: errcode.InvalidArgument, msg: "negative"},
		{name: "create event size too big", cmd: CreateHub{Namespace: ns, Hub: "x", MaxEventBytes: 21 << 20}, code: errcode.InvalidArgument,
			msg: "max event size 22020096 bytes is out of range"},
		{name: "create event size too small", cmd: CreateHub{Namespace: ns, Hub: "x", MaxEventBytes: 100}, code: errcode.InvalidArgument, msg: "max event size 100"},
		{name: "create bad name", cmd: CreateHub{Namespace: ns, Hub: "a/b"}, code: errcode.InvalidArgument, msg: `event hub name "a/b" is invalid`},
		{name: "create long name", cmd: CreateHub{Namespace: ns, Hub: strings.Repeat("a", 257)}, code: errcode.InvalidArgument, msg: "1 to 256"},
		{name: "create bad status", cmd: CreateHub{Namespace: ns, Hub: "x", Status: "Paused"}, code: errcode.InvalidArgument, msg: `status "Paused"`},
		{name: "update", cmd: UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 8, RetentionTime: 48 * time.Hour,
			RetentionBytes: ptr[int64](0), MaxEventBytes: 2048, Status: Disabled, Time: t1},
			checkFn: func(t *testing.T, s *State) {
				h, _ := s.Hub(ns, "orders")
				if h.PartitionCount != 8 || h.RetentionTime != 48*time.Hour || h.MaxEventBytes != 2048 || h.Status != Disabled || !h.UpdatedAt.Equal(t1) {
					t.Fatalf("hub %+v", h)
				}
			}},
		{name: "update nothing", cmd: UpdateHub{Namespace: ns, Hub: "orders"}, checkFn: func(t *testing.T, s *State) {
			if h, _ := s.Hub(ns, "orders"); h.PartitionCount != 4 || h.RetentionTime != DefaultRetention {
				t.Fatalf("hub %+v", h)
			}
		}},
		{name: "update shrink", cmd: UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 2}, code: errcode.InvalidArgument,
			msg: "has 4 partitions and cannot shrink to 2; the partition count can only increase"},
		{name: "update too many", cmd: UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 1025}, code: errcode.InvalidArgument, msg: "1025"},
		{name: "update bad retention", cmd: UpdateHub{Namespace: ns, Hub: "orders", RetentionTime: -time.Hour}, code: errcode.InvalidArgument, msg: "retention"},
		{name: "update bad size", cmd: UpdateHub{Namespace: ns, Hub: "orders", RetentionBytes: ptr[int64](-5)}, code: errcode.InvalidArgument, msg: "-5"},
		{name: "update bad event size", cmd: UpdateHub{Namespace: ns, Hub: "orders", MaxEventBytes: -1}, code: errcode.InvalidArgument, msg: "max event size"},
		{name: "update bad status", cmd: UpdateHub{Namespace: ns, Hub: "orders", Status: "Off"}, code: errcode.InvalidArgument, msg: "status"},
		{name: "update unknown", cmd: UpdateHub{Namespace: ns, Hub: "nope"}, code: errcode.NotFound, msg: `"nope"`},
		{name: "delete drops offsets", cmd: DeleteHub{Namespace: ns, Hub: "orders"}, checkFn: func(t *testing.T, s *State) {
			n, _ := s.Namespace(ns)
			if len(n.Hubs) != 0 || len(n.Offsets) != 0 {
				t.Fatalf("namespace %+v", n)
			}
		}},
		{name: "delete unknown", cmd: DeleteHub{Namespace: ns, Hub: "nope"}, code: errcode.NotFound, msg: "nope"},
	})
}

func TestGroupCommands(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "create", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: "audit", UserMetadata: "team=a", Time: t1},
			checkFn: func(t *testing.T, s *State) {
				g, err := s.Group(ns, "orders", "audit")
				if err != nil || g.UserMetadata != "team=a" || !g.CreatedAt.Equal(t1) {
					t.Fatalf("group %+v %v", g, err)
				}
				if o, err := s.Offsets(ns, "audit", "orders"); err != nil || len(o) != 0 {
					t.Fatalf("offsets %v %v", o, err)
				}
			}},
		{name: "create duplicate", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: "billing"}, code: errcode.AlreadyExists, msg: "billing"},
		{name: "create $Default", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: DefaultGroup}, code: errcode.AlreadyExists, msg: "$Default"},
		{name: "create $other", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: "$other"}, code: errcode.InvalidArgument,
			msg: "only $Default may start with '$'"},
		{name: "create bad name", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: ""}, code: errcode.InvalidArgument, msg: "consumer group name"},
		{name: "create big metadata", cmd: CreateGroup{Namespace: ns, Hub: "orders", Group: "g", UserMetadata: strings.Repeat("x", 1025)},
			code: errcode.InvalidArgument, msg: "1025 bytes"},
		{name: "create on unknown hub", cmd: CreateGroup{Namespace: ns, Hub: "nope", Group: "g"}, code: errcode.NotFound, msg: "nope"},
		{name: "delete drops its offsets", cmd: DeleteGroup{Namespace: ns, Hub: "orders", Group: "billing"}, checkFn: func(t *testing.T, s *State) {
			if _, err := s.Offsets(ns, "billing", "orders"); !errcode.Is(err, errcode.NotFound) {
				t.Fatal(err)
			}
			if n, _ := s.Namespace(ns); len(n.Offsets) != 0 {
				t.Fatalf("offsets %v", n.Offsets)
			}
		}},
		{name: "delete $Default", cmd: DeleteGroup{Namespace: ns, Hub: "orders", Group: DefaultGroup}, code: errcode.InvalidArgument,
			msg: "$Default cannot be deleted"},
		{name: "delete unknown", cmd: DeleteGroup{Namespace: ns, Hub: "orders", Group: "nope"}, code: errcode.NotFound,
			msg: `consumer group "nope" not found on event hub orders-ns/orders`},
	})
}

func TestOffsetCommands(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "commit", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Time: t1,
			Offsets: []PartitionOffset{{0, 20, ""}, {3, 5, "meta"}}},
			checkFn: func(t *testing.T, s *State) {
				o, err := s.Offsets(ns, "billing", "orders")
				if err != nil || len(o) != 2 || o[0].Offset != 20 || o[3] != (Checkpoint{5, "meta", t1}) {
					t.Fatalf("offsets %v %v", o, err)
				}
			}},
		{name: "commit creates group", cmd: CommitOffsets{Namespace: ns, Group: "kafka-app", Hub: "orders", Time: t1,
			Offsets: []PartitionOffset{{1, 7, ""}}},
			checkFn: func(t *testing.T, s *State) {
				if g, err := s.Group(ns, "orders", "kafka-app"); err != nil || !g.CreatedAt.Equal(t1) {
					t.Fatalf("group %+v %v", g, err)
				}
				if o, _ := s.Offsets(ns, "kafka-app", "orders"); o[1].Offset != 7 {
					t.Fatalf("offsets %v", o)
				}
			}},
		{name: "commit $Default", cmd: CommitOffsets{Namespace: ns, Group: DefaultGroup, Hub: "orders", Offsets: []PartitionOffset{{1, 7, ""}}}},
		{name: "commit bad partition", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Offsets: []PartitionOffset{{0, 1, ""}, {4, 1, ""}}},
			code: errcode.PartitionNotFound, msg: "partition 4 does not exist on event hub orders-ns/orders, which has partitions 0 to 3"},
		{name: "commit negative offset", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Offsets: []PartitionOffset{{0, -1, ""}}},
			code: errcode.InvalidArgument, msg: "offset -1 for partition 0 is negative"},
		{name: "commit nothing", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders"}, code: errcode.InvalidArgument, msg: "carries 0 offsets"},
		{name: "commit big metadata", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders",
			Offsets: []PartitionOffset{{0, 1, strings.Repeat("m", 4097)}}}, code: errcode.InvalidArgument, msg: "4097 bytes"},
		{name: "commit bad group", cmd: CommitOffsets{Namespace: ns, Group: "$x", Hub: "orders", Offsets: []PartitionOffset{{0, 1, ""}}},
			code: errcode.InvalidArgument, msg: "$x"},
		{name: "commit unknown hub", cmd: CommitOffsets{Namespace: ns, Group: "billing", Hub: "nope", Offsets: []PartitionOffset{{0, 1, ""}}},
			code: errcode.NotFound, msg: "nope"},
		{name: "delete partition", cmd: DeleteOffsets{Namespace: ns, Group: "billing", Hub: "orders", Partitions: []int32{0}},
			checkFn: func(t *testing.T, s *State) {
				if n, _ := s.Namespace(ns); len(n.Offsets) != 0 {
					t.Fatalf("offsets %v", n.Offsets)
				}
				if _, err := s.Group(ns, "orders", "billing"); err != nil {
					t.Fatalf("deleting offsets deleted the group: %v", err)
				}
			}},
		{name: "delete whole group", cmd: DeleteOffsets{Namespace: ns, Group: "billing"}},
		{name: "delete bad partition", cmd: DeleteOffsets{Namespace: ns, Group: "billing", Hub: "orders", Partitions: []int32{9}},
			code: errcode.PartitionNotFound, msg: "partition 9"},
		{name: "delete partitions without hub", cmd: DeleteOffsets{Namespace: ns, Group: "billing", Partitions: []int32{0}},
			code: errcode.InvalidArgument, msg: "name the hub"},
		{name: "delete unknown group", cmd: DeleteOffsets{Namespace: ns, Group: "nope"}, code: errcode.NotFound, msg: `"nope" has no committed offsets`},
		{name: "delete unknown group on hub", cmd: DeleteOffsets{Namespace: ns, Group: "nope", Hub: "orders"}, code: errcode.NotFound, msg: "nope"},
	})
}

func TestOffsetsSharedAcrossProtocols(t *testing.T) {
	// A Kafka commit for group G on hub H and an HTTP checkpoint read of H/G see the same offsets,
	// and a second hub committed by the same Kafka group keeps its own partitions.
	s := baseState(t)
	for _, c := range []Command{
		CreateHub{Namespace: ns, Hub: "payments", PartitionCount: 2},
		CommitOffsets{Namespace: ns, Group: "billing", Hub: "payments", Offsets: []PartitionOffset{{0, 3, ""}}},
		CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders", Offsets: []PartitionOffset{{0, 11, ""}}},
	} {
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatal(err)
		}
	}
	o1, _ := s.Offsets(ns, "billing", "orders")
	o2, _ := s.Offsets(ns, "billing", "payments")
	if o1[0].Offset != 11 || o2[0].Offset != 3 || len(o2) != 1 {
		t.Fatalf("orders %v payments %v", o1, o2)
	}
}
