package emulator

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestPlan(t *testing.T) {
	cfg := Config{Namespaces: []Namespace{{Name: "emulatorNs1", Hubs: []Hub{
		{Name: "eh1", Partitions: 2, Groups: []string{"cg1"}},
		{Name: "eh2", Partitions: 4, Groups: []string{"a", "b"}},
	}}}}
	for _, tc := range []struct {
		name string
		st   State
		want []Action
		err  string
	}{
		{"empty broker", State{}, []Action{
			{Kind: CreateNamespace, Namespace: "emulatorNs1"},
			{Kind: CreateHub, Namespace: "emulatorNs1", Hub: "eh1", Partitions: 2},
			{Kind: CreateGroup, Namespace: "emulatorNs1", Hub: "eh1", Group: "cg1"},
			{Kind: CreateHub, Namespace: "emulatorNs1", Hub: "eh2", Partitions: 4},
			{Kind: CreateGroup, Namespace: "emulatorNs1", Hub: "eh2", Group: "a"},
			{Kind: CreateGroup, Namespace: "emulatorNs1", Hub: "eh2", Group: "b"},
		}, ""},
		{"everything there, plus more the file does not name (kept)", State{"emulatorNs1": {
			"eh1":   {Partitions: 2, Groups: []string{"$Default", "cg1", "extra"}},
			"eh2":   {Partitions: 4, Groups: []string{"$Default", "a", "b"}},
			"other": {Partitions: 9},
		}}, nil, ""},
		{"a missing group, a hub to grow", State{"emulatorNs1": {
			"eh1": {Partitions: 1, Groups: []string{"$Default", "cg1"}},
			"eh2": {Partitions: 4, Groups: []string{"$Default", "b"}},
		}}, []Action{
			{Kind: GrowHub, Namespace: "emulatorNs1", Hub: "eh1", Partitions: 2, From: 1},
			{Kind: CreateGroup, Namespace: "emulatorNs1", Hub: "eh2", Group: "a"},
		}, ""},
		{"a hub with more partitions than the file", State{"emulatorNs1": {
			"eh1": {Partitions: 2, Groups: []string{"cg1"}},
			"eh2": {Partitions: 8},
		}}, nil, "event hub emulatorNs1/eh2 has 8 partitions but the emulator config asks for 4"},
	} {
		got, err := Plan(cfg, tc.st)
		if tc.err != "" {
			if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%s: Plan error %v, want Conflict containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s: Plan =\n %v, %v\nwant\n %v", tc.name, got, err, tc.want)
		}
	}
}

func openBroker(t *testing.T, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", NodeID: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The emulator's own Config.json applied to a real broker, at two starts: the first creates
// the namespace, hub and group; the second, after a restart, finds them (with their events'
// partitions) and changes nothing.
func TestApplyEmulatorSampleTwice(t *testing.T) {
	ctx := context.Background()
	cfg, err := Load(filepath.Join("testdata", "emulator-Config.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := openBroker(t, dir)
	done, err := ApplyActions(ctx, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"created namespace emulatorNs1", "created event hub emulatorNs1/eh1 with 2 partitions",
		"created consumer group emulatorNs1/eh1/cg1"}
	if got := actionStrings(done); !reflect.DeepEqual(got, want) {
		t.Fatalf("first start: %q, want %q", got, want)
	}
	checkEntities(t, b, 2, "$Default", "cg1")
	b.Close()

	b = openBroker(t, dir)
	defer b.Close()
	if done, err = ApplyActions(ctx, b, cfg); err != nil || len(done) != 0 {
		t.Fatalf("second start: %q, %v; want no change", actionStrings(done), err)
	}
	checkEntities(t, b, 2, "$Default", "cg1")

	// The file grows the hub and adds a group: the hub grows, nothing else changes.
	cfg.Namespaces[0].Hubs[0].Partitions = 3
	cfg.Namespaces[0].Hubs[0].Groups = append(cfg.Namespaces[0].Hubs[0].Groups, "cg2")
	if done, err = ApplyActions(ctx, b, cfg); err != nil {
		t.Fatal(err)
	}
	want = []string{"grew event hub emulatorNs1/eh1 from 2 to 3 partitions (keys now map to other partitions)",
		"created consumer group emulatorNs1/eh1/cg2"}
	if got := actionStrings(done); !reflect.DeepEqual(got, want) {
		t.Fatalf("grown: %q, want %q", got, want)
	}
	checkEntities(t, b, 3, "$Default", "cg1", "cg2")

	// Back to 2: partitions cannot be removed, and the error names both counts.
	cfg.Namespaces[0].Hubs[0].Partitions = 2
	err = Apply(ctx, b, cfg)
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "has 3 partitions but the emulator config asks for 2") {
		t.Fatalf("shrink: %v", err)
	}
	checkEntities(t, b, 3, "$Default", "cg1", "cg2")
}

// Entities the broker refuses are named with the refusal: here a group name Event Hubs
// allows in the emulator's pattern but not in Tandem ('/').
func TestApplyRefusedName(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	cfg, err := Parse([]byte(wrap(`{"Name": "shop-ns", "Entities": [{"Name": "a/b", "PartitionCount": 1}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	err = Apply(context.Background(), b, cfg)
	if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "emulator config: creating event hub shop-ns/a/b") ||
		!strings.Contains(err.Error(), `"a/b" is invalid`) {
		t.Fatalf("Apply = %v", err)
	}
}

func actionStrings(as []Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

func checkEntities(t *testing.T, b *broker.Broker, partitions int32, groups ...string) {
	t.Helper()
	h, err := b.Hub("emulatorNs1", "eh1")
	if err != nil || h.Partitions != partitions {
		t.Fatalf("hub emulatorNs1/eh1: %+v, %v; want %d partitions", h, err, partitions)
	}
	gs, err := b.ConsumerGroups("emulatorNs1", "eh1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	if !reflect.DeepEqual(names, groups) {
		t.Fatalf("groups %q, want %q", names, groups)
	}
}
