package broker

import (
	"hash/maphash"
	"sort"
	"strings"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// hubIndex is an immutable snapshot of every hub, so the produce and fetch paths look hubs up
// without locks or copies. A metadata command replaces it by a new snapshot that shares
// everything the command did not touch (refreshHubs): the namespaces map is copied (there are
// few namespaces), and within a namespace only the path to the touched hub's bucket, so a
// command costs the same with ten hubs or ten thousand (issue 17).
//
// Per namespace it holds the hubs, the network rules (checked on every HTTP request and Kafka
// connection) and, for a paired geo-DR secondary, its alias name; aliases maps each alias name
// held here (lower case) to its namespace and configuration.
type hubIndex struct {
	ns      map[string]*nsIndex
	aliases map[string]aliasEntry
}

type aliasEntry struct {
	ns  string
	cfg meta.AliasConfig
}

// nsIndex is one namespace's part of a hubIndex; immutable once published.
type nsIndex struct {
	rules       meta.NetworkRules
	secondaryOf string // the alias name while the namespace is a paired secondary, else ""
	alias       *meta.AliasConfig
	hubs        hubTrie
}

// hubTrie is a persistent map of hub name to HubInfo: a fixed two-level radix of 64×64 slots
// on a hash of the name, each leaf slot a short slice. Setting or deleting one hub copies the
// root, one node and one slot: a constant number of allocations whatever the hub count.
type hubTrie struct {
	root *[trieFan]*trieNode
	n    int
}

const trieFan = 64

type trieNode [trieFan][]HubInfo

var trieSeed = maphash.MakeSeed()

func trieSlot(name string) (int, int) {
	h := maphash.String(trieSeed, name)
	return int(h % trieFan), int(h / trieFan % trieFan)
}

// get returns hub name.
func (t hubTrie) get(name string) (HubInfo, bool) {
	if t.root == nil {
		return HubInfo{}, false
	}
	i, j := trieSlot(name)
	nd := t.root[i]
	if nd == nil {
		return HubInfo{}, false
	}
	for _, h := range nd[j] {
		if h.Name == name {
			return h, true
		}
	}
	return HubInfo{}, false
}

// with returns t with hub h set (added or replaced), sharing all else with t.
func (t hubTrie) with(h HubInfo) hubTrie {
	return t.edit(h.Name, &h)
}

// without returns t without hub name.
func (t hubTrie) without(name string) hubTrie {
	if _, ok := t.get(name); !ok {
		return t
	}
	return t.edit(name, nil)
}

func (t hubTrie) edit(name string, h *HubInfo) hubTrie {
	i, j := trieSlot(name)
	root := new([trieFan]*trieNode)
	if t.root != nil {
		*root = *t.root
	}
	nd := new(trieNode)
	if root[i] != nil {
		*nd = *root[i]
	}
	old := nd[j]
	slot := make([]HubInfo, 0, len(old)+1)
	n := t.n
	found := false
	for _, o := range old {
		if o.Name != name {
			slot = append(slot, o)
			continue
		}
		found = true
		if h != nil {
			slot = append(slot, *h)
		}
	}
	switch {
	case !found && h != nil:
		slot = append(slot, *h)
		n++
	case found && h == nil:
		n--
	}
	nd[j] = slot
	root[i] = nd
	return hubTrie{root: root, n: n}
}

// each calls fn with every hub until fn returns false.
func (t hubTrie) each(fn func(HubInfo) bool) bool {
	if t.root == nil {
		return true
	}
	for _, nd := range t.root {
		if nd == nil {
			continue
		}
		for _, slot := range nd {
			for _, h := range slot {
				if !fn(h) {
					return false
				}
			}
		}
	}
	return true
}

// hub returns hub ns/name.
func (x *hubIndex) hub(ns, name string) (HubInfo, bool) {
	n, ok := x.ns[ns]
	if !ok {
		return HubInfo{}, false
	}
	return n.hubs.get(name)
}

// secondaryOf returns the alias of namespace ns while ns is its paired secondary.
func (x *hubIndex) secondaryOf(ns string) (string, bool) {
	n, ok := x.ns[ns]
	if !ok || n.secondaryOf == "" {
		return "", false
	}
	return n.secondaryOf, true
}

// rules returns the network rules of namespace ns; false when ns does not exist.
func (x *hubIndex) rules(ns string) (meta.NetworkRules, bool) {
	n, ok := x.ns[ns]
	if !ok {
		return meta.NetworkRules{}, false
	}
	return n.rules, true
}

// eachHub calls fn with every hub of every namespace until fn returns false.
func (x *hubIndex) eachHub(fn func(HubInfo) bool) {
	for _, n := range x.ns {
		if !n.hubs.each(fn) {
			return
		}
	}
}

// hubsOf returns the hubs of namespace ns, sorted by name.
func (x *hubIndex) hubsOf(ns string) []HubInfo {
	n, ok := x.ns[ns]
	if !ok {
		return nil
	}
	out := make([]HubInfo, 0, n.hubs.n)
	n.hubs.each(func(h HubInfo) bool { out = append(out, h); return true })
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// buildHubIndex builds the index of every namespace of s.
func (b *Broker) buildHubIndex(s *meta.State) *hubIndex {
	x := &hubIndex{ns: map[string]*nsIndex{}}
	for _, ns := range s.Namespaces() {
		if n := b.buildNamespace(s, ns, nil, true); n != nil {
			x.ns[ns] = n
		}
	}
	x.aliases = aliasesOf(x.ns)
	return x
}

// buildNamespace returns namespace ns's index from s: its settings, and its hubs rebuilt
// (allHubs) or taken from prev. nil when ns does not exist.
func (b *Broker) buildNamespace(s *meta.State, ns string, prev *nsIndex, allHubs bool) *nsIndex {
	f, err := s.NamespaceFacts(ns)
	if err != nil {
		return nil
	}
	n := &nsIndex{rules: f.NetworkRules, alias: f.Alias}
	if f.Alias.Paired() && f.Alias.Role == meta.RoleSecondary {
		n.secondaryOf = f.Alias.Name
	}
	if !allHubs && prev != nil {
		n.hubs = prev.hubs
		return n
	}
	names, _ := s.Hubs(ns)
	for _, name := range names {
		if h, err := s.Hub(ns, name); err == nil {
			n.hubs = n.hubs.with(b.hubInfo(ns, h))
		}
	}
	return n
}

func aliasesOf(nss map[string]*nsIndex) map[string]aliasEntry {
	out := map[string]aliasEntry{}
	for ns, n := range nss {
		if n.alias != nil {
			out[strings.ToLower(n.alias.Name)] = aliasEntry{ns, *n.alias}
		}
	}
	return out
}

// applyTouches returns x updated with what the touches changed, read from s; nil when one of
// them asks for a full rebuild. x is not modified.
func (b *Broker) applyTouches(x *hubIndex, s *meta.State, touches []meta.Touch) *hubIndex {
	type nsWork struct {
		settings, all bool
		hubs          map[string]bool
	}
	work := map[string]*nsWork{}
	for _, t := range touches {
		if t.Global {
			return nil
		}
		w := work[t.Namespace]
		if w == nil {
			w = &nsWork{hubs: map[string]bool{}}
			work[t.Namespace] = w
		}
		w.settings = w.settings || t.Settings
		w.all = w.all || t.AllHubs
		if t.Hub != "" {
			w.hubs[t.Hub] = true
		}
	}
	next := &hubIndex{ns: make(map[string]*nsIndex, len(x.ns)+1), aliases: x.aliases}
	for ns, n := range x.ns {
		next.ns[ns] = n
	}
	settings := false
	for ns, w := range work {
		prev := x.ns[ns]
		if w.settings || w.all || prev == nil {
			settings = true
			n := b.buildNamespace(s, ns, prev, w.all || prev == nil)
			if n == nil {
				delete(next.ns, ns)
				continue
			}
			if w.all || prev == nil {
				next.ns[ns] = n
				continue
			}
			prev = n
		} else {
			cp := *prev
			prev = &cp
		}
		for name := range w.hubs {
			if h, err := s.Hub(ns, name); err == nil {
				prev.hubs = prev.hubs.with(b.hubInfo(ns, h))
			} else {
				prev.hubs = prev.hubs.without(name)
			}
		}
		next.ns[ns] = prev
	}
	if settings {
		next.aliases = aliasesOf(next.ns)
	}
	return next
}

// eachChanged calls fn with every hub of before whose part of the index after does not share,
// with what after holds under its name: a diff costs what changed, not what exists.
func eachChanged(before, after *hubIndex, fn func(old, cur HubInfo, ok bool)) {
	for ns, bn := range before.ns {
		var at hubTrie
		if an := after.ns[ns]; an != nil {
			at = an.hubs
		}
		bt := bn.hubs
		if bt.root == nil || bt.root == at.root {
			continue
		}
		for i, nd := range bt.root {
			if nd == nil || (at.root != nil && at.root[i] == nd) {
				continue
			}
			for _, slot := range nd {
				for _, h := range slot {
					cur, ok := at.get(h.Name)
					fn(h, cur, ok)
				}
			}
		}
	}
}
