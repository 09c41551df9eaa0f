package meta

import (
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// MaxPolicies is how many shared access policies a namespace or an event hub may have (Azure: 12).
const MaxPolicies = 12

func (c CreateNamespace) check(s *State) error {
	if err := validNamespaceName(c.Namespace); err != nil {
		return err
	}
	if _, ok := s.namespaces[c.Namespace]; ok {
		return errcode.New(errcode.AlreadyExists,
			"namespace %q already exists; pick another name or change it with 'tandem namespace update'", c.Namespace)
	}
	tier := c.tier()
	if err := validTier(tier); err != nil {
		return err
	}
	if c.Cluster != "" && tier != Dedicated {
		return errcode.New(errcode.InvalidArgument,
			"namespace %q is %s tier but names dedicated cluster %q; only dedicated namespaces run on a cluster", c.Namespace, tier, c.Cluster)
	}
	if err := validNetworkRules(c.NetworkRules); err != nil {
		return err
	}
	if err := validLabels(c.Labels); err != nil {
		return err
	}
	if err := validKey(RootPolicyName+" primary key", c.RootPrimaryKey); err != nil {
		return err
	}
	return validKey(RootPolicyName+" secondary key", c.RootSecondaryKey)
}

func (c CreateNamespace) tier() Tier {
	if c.Tier == "" {
		return Standard
	}
	return c.Tier
}

func (c CreateNamespace) apply(s *State) {
	s.namespaces[c.Namespace] = &Namespace{
		Name:    c.Namespace,
		Tier:    c.tier(),
		Cluster: c.Cluster,
		Policies: map[string]*Policy{RootPolicyName: {
			Name:         RootPolicyName,
			Rights:       auth.Rights{auth.Manage, auth.Send, auth.Listen},
			PrimaryKey:   c.RootPrimaryKey,
			SecondaryKey: c.RootSecondaryKey,
		}},
		NetworkRules: normalizeNetworkRules(c.NetworkRules),
		Hubs:         map[string]*Hub{},
		folded:       map[string][]string{},
		Offsets:      map[string]map[string]map[int32]Checkpoint{},
		Labels:       cloneLabels(c.Labels),
		CreatedAt:    c.Time,
		UpdatedAt:    c.Time,
	}
}

func validLabels(m map[string]string) error {
	for k := range m {
		if k == "" {
			return errcode.New(errcode.InvalidArgument, "a namespace label has an empty key; give every label a name")
		}
	}
	return nil
}

func cloneLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (c UpdateNamespace) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	if c.Tier != "" && c.Tier != n.Tier {
		if err := validTier(c.Tier); err != nil {
			return err
		}
		if !switchable(n.Tier) || !switchable(c.Tier) {
			return errcode.New(errcode.Conflict,
				"namespace %q is %s tier and cannot change to %s; only basic and standard switch between each other, so create a new namespace instead",
				c.Namespace, n.Tier, c.Tier)
		}
	}
	if c.NetworkRules != nil {
		if err := validNetworkRules(*c.NetworkRules); err != nil {
			return err
		}
	}
	return validLabels(c.SetLabels)
}

func switchable(t Tier) bool { return t == Basic || t == Standard }

func (c UpdateNamespace) apply(s *State) {
	n := s.namespaces[c.Namespace]
	if c.Tier != "" {
		n.Tier = c.Tier
	}
	if c.NetworkRules != nil {
		n.NetworkRules = normalizeNetworkRules(*c.NetworkRules)
	}
	for k, v := range c.SetLabels {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[k] = v
	}
	for _, k := range c.DeleteLabels {
		delete(n.Labels, k)
	}
	if len(n.Labels) == 0 {
		n.Labels = nil
	}
	n.UpdatedAt = c.Time
}

func (c DeleteNamespace) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	if n.Alias.Paired() {
		return errcode.New(errcode.Conflict,
			"namespace %q is the %s of alias %q; break the pairing and delete the alias before deleting the namespace",
			c.Namespace, n.Alias.Role, n.Alias.Name)
	}
	return nil
}

func (c DeleteNamespace) apply(s *State) {
	for _, h := range s.namespaces[c.Namespace].Hubs {
		s.countPartitions(-int64(h.PartitionCount))
	}
	delete(s.namespaces, c.Namespace)
}

func (c PutPolicy) check(s *State) error {
	ps, err := s.policies(c.Namespace, c.Hub)
	if err != nil {
		return err
	}
	if err := validEntityName("shared access policy", c.Name); err != nil {
		return err
	}
	if err := c.Rights.Validate(); err != nil {
		return err
	}
	_, exists := ps[c.Name]
	if !exists && len(ps) >= MaxPolicies {
		return errcode.New(errcode.Conflict,
			"%s already has %d shared access policies, the most allowed; delete one first", where(c.Namespace, c.Hub), MaxPolicies)
	}
	if !exists || c.PrimaryKey != "" {
		if err := validKey("primary key of policy "+c.Name, c.PrimaryKey); err != nil {
			return err
		}
	}
	if !exists || c.SecondaryKey != "" {
		return validKey("secondary key of policy "+c.Name, c.SecondaryKey)
	}
	return nil
}

func (c PutPolicy) apply(s *State) {
	ps, _ := s.policies(c.Namespace, c.Hub)
	p, ok := ps[c.Name]
	if !ok {
		p = &Policy{Name: c.Name}
		ps[c.Name] = p
	}
	p.Rights = c.Rights.Normalize()
	if c.PrimaryKey != "" {
		p.PrimaryKey = c.PrimaryKey
	}
	if c.SecondaryKey != "" {
		p.SecondaryKey = c.SecondaryKey
	}
	s.touch(c.Namespace, c.Hub, c.Time)
}

func (c DeletePolicy) check(s *State) error {
	_, err := s.policy(c.Namespace, c.Hub, c.Name)
	return err
}

func (c DeletePolicy) apply(s *State) {
	ps, _ := s.policies(c.Namespace, c.Hub)
	delete(ps, c.Name)
	s.touch(c.Namespace, c.Hub, c.Time)
}

func (c RegenerateKey) check(s *State) error {
	if _, err := s.policy(c.Namespace, c.Hub, c.Name); err != nil {
		return err
	}
	if !slices.Contains([]KeyType{PrimaryKey, SecondaryKey}, c.KeyType) {
		return errcode.New(errcode.InvalidArgument,
			"key type %q is invalid; use PrimaryKey or SecondaryKey", string(c.KeyType))
	}
	return validKey("new "+string(c.KeyType)+" of policy "+c.Name, c.Key)
}

func (c RegenerateKey) apply(s *State) {
	p, _ := s.policy(c.Namespace, c.Hub, c.Name)
	if c.KeyType == PrimaryKey {
		p.PrimaryKey = c.Key
	} else {
		p.SecondaryKey = c.Key
	}
	s.touch(c.Namespace, c.Hub, c.Time)
}

// touch sets UpdatedAt of the namespace (hub "") or of the hub.
func (s *State) touch(ns, hub string, t time.Time) {
	if hub == "" {
		s.namespaces[ns].UpdatedAt = t
		return
	}
	s.namespaces[ns].Hubs[hub].UpdatedAt = t
}

func where(ns, hub string) string {
	if hub == "" {
		return "namespace " + ns
	}
	return "event hub " + ns + "/" + hub
}
