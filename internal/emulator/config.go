package emulator

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Config is the emulator's Config.json, validated.
type Config struct {
	Namespaces []Namespace
	// Logging is LoggingConfig.Type as written ("File", "Console", "File,Console", …); Tandem
	// logs to stderr whatever it says. "" when the file has no LoggingConfig.
	Logging string
	// EmulatorLimits is the Tandem key UserConfig.EmulatorLimits: check the emulator's caps.
	EmulatorLimits bool
}

// Namespace is one NamespaceConfig entry.
type Namespace struct {
	Name string // default DefaultNamespace, the emulator's only namespace
	Hubs []Hub  // the Entities
}

// Hub is one event hub (an entry of Entities).
type Hub struct {
	Name       string
	Partitions int32
	// Groups are the consumer groups besides $Default, which every hub has (a "$default"
	// entry in the file, any case, is that group and is not listed here).
	Groups []string
}

// DefaultNamespace is the emulator's namespace name, used when an entry has no Name.
const DefaultNamespace = "emulatorNs1"

// Bounds Tandem checks, and the emulator's caps checked with EmulatorLimits.
const (
	MaxPartitions = 1024 // Tandem's partitions per hub (meta.MaxPartitionCount)

	EmulatorMaxNamespaces = 1
	EmulatorMaxHubs       = 10
	EmulatorMaxPartitions = 32
	EmulatorMaxGroups     = 20 // consumer groups per hub, $default included
)

// Load reads and validates the emulator configuration file at path.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, errcode.New(errcode.InvalidArgument, "reading the emulator config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse validates the contents of a Config.json. Errors are errcode.InvalidArgument and name
// the place in the file, such as UserConfig.NamespaceConfig[0].Entities[1].PartitionCount.
func Parse(data []byte) (Config, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // files saved by Windows tools start with a BOM
	root, err := objectAt("the file", data)
	if err != nil {
		return Config{}, err
	}
	if err := root.only("UserConfig"); err != nil {
		return Config{}, err
	}
	uc, err := root.object("UserConfig", true)
	if err != nil {
		return Config{}, err
	}
	if err := uc.only("NamespaceConfig", "LoggingConfig", "EmulatorLimits"); err != nil {
		return Config{}, err
	}
	var cfg Config
	if cfg.EmulatorLimits, err = uc.boolean("EmulatorLimits"); err != nil {
		return Config{}, err
	}
	if cfg.Logging, err = parseLogging(uc); err != nil {
		return Config{}, err
	}
	nss, err := uc.array("NamespaceConfig", true)
	if err != nil {
		return Config{}, err
	}
	if len(nss) == 0 {
		return Config{}, invalid("%s is empty; declare at least one namespace", uc.path+".NamespaceConfig")
	}
	seen := names{}
	for _, o := range nss {
		ns, err := parseNamespace(o)
		if err != nil {
			return Config{}, err
		}
		if err := seen.add(o.path, "namespace", ns.Name); err != nil {
			return Config{}, err
		}
		cfg.Namespaces = append(cfg.Namespaces, ns)
	}
	if cfg.EmulatorLimits {
		if err := cfg.checkEmulatorLimits(); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

func parseLogging(uc object) (string, error) {
	lc, err := uc.object("LoggingConfig", false)
	if err != nil || lc.fields == nil {
		return "", err
	}
	if err := lc.only("Type"); err != nil {
		return "", err
	}
	t, err := lc.str("Type", true)
	if err != nil {
		return "", err
	}
	switch strings.ReplaceAll(t, " ", "") {
	case "File", "Console", "File,Console", "Console,File":
		return t, nil
	}
	return "", invalid(`%s.Type is %q; use "File", "Console" or "File,Console" (Tandem logs to stderr either way)`, lc.path, t)
}

func parseNamespace(o object) (Namespace, error) {
	if err := o.only("Type", "Name", "Entities"); err != nil {
		return Namespace{}, err
	}
	typ, err := o.str("Type", false)
	if err != nil {
		return Namespace{}, err
	}
	if typ != "" && typ != "EventHub" {
		return Namespace{}, invalid(`%s.Type is %q; the only namespace type is "EventHub"`, o.path, typ)
	}
	ns := Namespace{Name: DefaultNamespace}
	if _, given := o.fields["Name"]; given {
		if ns.Name, err = o.str("Name", true); err != nil {
			return Namespace{}, err
		}
		if ns.Name == "" {
			return Namespace{}, invalid("%s.Name is empty; name the namespace (the emulator's is %q)", o.path, DefaultNamespace)
		}
	}
	ents, err := o.array("Entities", true)
	if err != nil {
		return Namespace{}, err
	}
	seen := names{}
	for _, e := range ents {
		h, err := parseHub(e)
		if err != nil {
			return Namespace{}, err
		}
		if err := seen.add(e.path, "event hub", h.Name); err != nil {
			return Namespace{}, err
		}
		ns.Hubs = append(ns.Hubs, h)
	}
	return ns, nil
}

func parseHub(o object) (Hub, error) {
	if err := o.only("Name", "PartitionCount", "ConsumerGroups"); err != nil {
		return Hub{}, err
	}
	name, err := o.str("Name", true)
	if err != nil {
		return Hub{}, err
	}
	if name == "" {
		return Hub{}, invalid("%s.Name is empty; name the event hub", o.path)
	}
	n, err := o.integer("PartitionCount")
	if err != nil {
		return Hub{}, err
	}
	if n < 1 || n > MaxPartitions {
		return Hub{}, invalid("%s.PartitionCount of event hub %q is %d; use 1 to %d", o.path, name, n, MaxPartitions)
	}
	h := Hub{Name: name, Partitions: int32(n)}
	groups, err := o.array("ConsumerGroups", false)
	if err != nil {
		return Hub{}, err
	}
	seen := names{}
	for _, g := range groups {
		if err := g.only("Name"); err != nil {
			return Hub{}, err
		}
		gname, err := g.str("Name", true)
		if err != nil {
			return Hub{}, err
		}
		if gname == "" {
			return Hub{}, invalid("%s.Name is empty; name the consumer group", g.path)
		}
		if err := seen.add(g.path, "consumer group", gname); err != nil {
			return Hub{}, err
		}
		if !isDefaultGroup(gname) {
			h.Groups = append(h.Groups, gname)
		}
	}
	return h, nil
}

// isDefaultGroup reports whether name is the consumer group every hub has ("$Default";
// Event Hubs names are case-insensitive and the emulator writes "$default").
func isDefaultGroup(name string) bool { return strings.EqualFold(name, "$Default") }

func (cfg Config) checkEmulatorLimits() error {
	if len(cfg.Namespaces) > EmulatorMaxNamespaces {
		return invalid("UserConfig.NamespaceConfig has %d namespaces; with EmulatorLimits the most is %d", len(cfg.Namespaces), EmulatorMaxNamespaces)
	}
	for i, ns := range cfg.Namespaces {
		if ns.Name != DefaultNamespace {
			return invalid("UserConfig.NamespaceConfig[%d].Name is %q; with EmulatorLimits it must be %q", i, ns.Name, DefaultNamespace)
		}
		if len(ns.Hubs) < 1 || len(ns.Hubs) > EmulatorMaxHubs {
			return invalid("UserConfig.NamespaceConfig[%d].Entities has %d event hubs; with EmulatorLimits use 1 to %d", i, len(ns.Hubs), EmulatorMaxHubs)
		}
		for j, h := range ns.Hubs {
			if h.Partitions > EmulatorMaxPartitions {
				return invalid("UserConfig.NamespaceConfig[%d].Entities[%d].PartitionCount of event hub %q is %d; with EmulatorLimits the most is %d",
					i, j, h.Name, h.Partitions, EmulatorMaxPartitions)
			}
			if len(h.Groups)+1 > EmulatorMaxGroups {
				return invalid("UserConfig.NamespaceConfig[%d].Entities[%d] (event hub %q) has %d consumer groups with $default; with EmulatorLimits the most is %d",
					i, j, h.Name, len(h.Groups)+1, EmulatorMaxGroups)
			}
		}
	}
	return nil
}

// names finds duplicate names, ignoring case as Event Hubs does.
type names map[string]string

func (n names) add(path, kind, name string) error {
	key := strings.ToLower(name)
	if prev, ok := n[key]; ok {
		return invalid("%s: %s %q is declared twice (also as %q; Event Hubs names ignore case); declare it once", path, kind, name, prev)
	}
	n[key] = name
	return nil
}

func invalid(format string, args ...any) error {
	return errcode.New(errcode.InvalidArgument, format, args...)
}
