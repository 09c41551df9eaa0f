package emulator

import (
	"context"
	"fmt"
	"slices"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// State is what a broker holds, as far as a Config speaks of it: namespace → hub → hub.
type State map[string]map[string]HubState

// HubState is an existing hub's partition count and consumer groups.
type HubState struct {
	Partitions int32
	Groups     []string
}

// ActionKind is a change Plan asks for.
type ActionKind int

// The changes, in the order Plan lists them for one hub.
const (
	CreateNamespace ActionKind = iota + 1
	CreateHub
	GrowHub
	CreateGroup
)

// Action is one change to a broker.
type Action struct {
	Kind       ActionKind
	Namespace  string
	Hub        string
	Group      string
	Partitions int32 // CreateHub: the count; GrowHub: the new count
	From       int32 // GrowHub: the count before
}

func (a Action) String() string {
	switch a.Kind {
	case CreateNamespace:
		return fmt.Sprintf("created namespace %s", a.Namespace)
	case CreateHub:
		return fmt.Sprintf("created event hub %s/%s with %d partitions", a.Namespace, a.Hub, a.Partitions)
	case GrowHub:
		return fmt.Sprintf("grew event hub %s/%s from %d to %d partitions (keys now map to other partitions)",
			a.Namespace, a.Hub, a.From, a.Partitions)
	case CreateGroup:
		return fmt.Sprintf("created consumer group %s/%s/%s", a.Namespace, a.Hub, a.Group)
	}
	return fmt.Sprintf("action %d", a.Kind)
}

// Plan lists the changes that make st hold what cfg declares. It never deletes or shrinks:
// hubs and groups the file does not name are kept, and a hub with more partitions than the
// file asks for is an error that names both counts.
func Plan(cfg Config, st State) ([]Action, error) {
	var out []Action
	for _, ns := range cfg.Namespaces {
		hubs, nsExists := st[ns.Name]
		if !nsExists {
			out = append(out, Action{Kind: CreateNamespace, Namespace: ns.Name})
		}
		for _, h := range ns.Hubs {
			have, exists := hubs[h.Name]
			switch {
			case !exists:
				out = append(out, Action{Kind: CreateHub, Namespace: ns.Name, Hub: h.Name, Partitions: h.Partitions})
			case h.Partitions > have.Partitions:
				out = append(out, Action{Kind: GrowHub, Namespace: ns.Name, Hub: h.Name, Partitions: h.Partitions, From: have.Partitions})
			case h.Partitions < have.Partitions:
				return nil, errcode.New(errcode.Conflict,
					"event hub %s/%s has %d partitions but the emulator config asks for %d, and partitions cannot be removed; set its PartitionCount to %d in the file, or delete the hub with its events ('tandem hub delete %s/%s') and start again",
					ns.Name, h.Name, have.Partitions, h.Partitions, have.Partitions, ns.Name, h.Name)
			}
			for _, g := range h.Groups {
				if !slices.Contains(have.Groups, g) {
					out = append(out, Action{Kind: CreateGroup, Namespace: ns.Name, Hub: h.Name, Group: g})
				}
			}
		}
	}
	return out, nil
}

// CurrentState reads from b what Plan needs to compare cfg with.
func CurrentState(b *broker.Broker, cfg Config) (State, error) {
	st := State{}
	for _, ns := range cfg.Namespaces {
		if _, err := b.Namespace(ns.Name); err != nil {
			if errcode.Is(err, errcode.NotFound) {
				continue
			}
			return nil, err
		}
		hubs := map[string]HubState{}
		for _, h := range b.Hubs(ns.Name) {
			groups, err := b.ConsumerGroups(ns.Name, h.Name)
			if err != nil {
				return nil, err
			}
			hs := HubState{Partitions: h.Partitions}
			for _, g := range groups {
				hs.Groups = append(hs.Groups, g.Name)
			}
			hubs[h.Name] = hs
		}
		st[ns.Name] = hubs
	}
	return st, nil
}

// Apply creates in b what cfg declares and b lacks: namespaces, event hubs with their
// partition counts, consumer groups. Run at every start, it changes nothing the second time.
func Apply(ctx context.Context, b *broker.Broker, cfg Config) error {
	_, err := ApplyActions(ctx, b, cfg)
	return err
}

// ApplyActions is Apply that returns the changes it made, for the caller to log.
func ApplyActions(ctx context.Context, b *broker.Broker, cfg Config) ([]Action, error) {
	st, err := CurrentState(b, cfg)
	if err != nil {
		return nil, fmt.Errorf("emulator config: reading the broker's entities: %w", err)
	}
	plan, err := Plan(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("emulator config: %w", err)
	}
	var done []Action
	for _, a := range plan {
		err := do(ctx, b, a)
		if errcode.Is(err, errcode.AlreadyExists) {
			continue // another node of the region, starting with the same file, was first
		}
		if err != nil {
			return done, fmt.Errorf("emulator config: %s: %w", failedTo(a), err)
		}
		done = append(done, a)
	}
	return done, nil
}

func do(ctx context.Context, b *broker.Broker, a Action) error {
	switch a.Kind {
	case CreateNamespace:
		_, err := b.CreateNamespace(ctx, broker.NamespaceSpec{Name: a.Namespace})
		return err
	case CreateHub:
		return b.CreateHub(ctx, a.Namespace, broker.HubSpec{Name: a.Hub, Partitions: a.Partitions})
	case GrowHub:
		return b.AddPartitions(ctx, a.Namespace, a.Hub, a.Partitions)
	case CreateGroup:
		_, err := b.CreateConsumerGroup(ctx, a.Namespace, a.Hub, a.Group, "")
		return err
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}

func failedTo(a Action) string {
	switch a.Kind {
	case CreateNamespace:
		return "creating namespace " + a.Namespace
	case CreateHub:
		return fmt.Sprintf("creating event hub %s/%s", a.Namespace, a.Hub)
	case GrowHub:
		return fmt.Sprintf("growing event hub %s/%s from %d to %d partitions", a.Namespace, a.Hub, a.From, a.Partitions)
	}
	return fmt.Sprintf("creating consumer group %s/%s/%s", a.Namespace, a.Hub, a.Group)
}
