package emulator

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// wrap puts a NamespaceConfig entry into a whole file.
func wrap(ns string) string {
	return `{"UserConfig": {"NamespaceConfig": [` + ns + `], "LoggingConfig": {"Type": "File"}}}`
}

func TestParseSamples(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Config
	}{
		{"emulator-Config.json", Config{Logging: "File", Namespaces: []Namespace{{Name: "emulatorNs1",
			Hubs: []Hub{{Name: "eh1", Partitions: 2, Groups: []string{"cg1"}}}}}}},
		// PartitionCount is the string "2" in this sample of the emulator's repository.
		{"spring-boot-config.json", Config{Logging: "File", Namespaces: []Namespace{{Name: "emulatorNs1",
			Hubs: []Hub{{Name: "eh1", Partitions: 2, Groups: []string{"cg1"}}}}}}},
		{"python-function-Config.json", Config{Logging: "File", Namespaces: []Namespace{{Name: "emulatorNs1", Hubs: []Hub{
			{Name: "inbound_eh", Partitions: 2, Groups: []string{"icg1"}},
			{Name: "right_eh", Partitions: 2, Groups: []string{"rcg1"}},
			{Name: "left_eh", Partitions: 2, Groups: []string{"lcg1"}}}}}}},
	} {
		got, err := Load(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Config
	}{
		{"defaults: no Name, Type, ConsumerGroups or LoggingConfig",
			`{"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "h", "PartitionCount": 1}]}]}}`,
			Config{Namespaces: []Namespace{{Name: "emulatorNs1", Hubs: []Hub{{Name: "h", Partitions: 1}}}}}},
		{"$default in any case is the hub's own group; keys ignore case",
			`{"userConfig": {"namespaceConfig": [{"name": "shop-ns", "type": "EventHub", "entities": [{"name": "orders", "partitionCount": 1024,
			  "consumerGroups": [{"name": "$default"}, {"name": "billing"}, {"Name": "audit"}]}]}], "loggingConfig": {"type": "Console,File"}}}`,
			Config{Logging: "Console,File", Namespaces: []Namespace{{Name: "shop-ns",
				Hubs: []Hub{{Name: "orders", Partitions: 1024, Groups: []string{"billing", "audit"}}}}}}},
		{"no caps: two namespaces, 40 partitions",
			wrap(`{"Name": "ns-one", "Entities": [{"Name": "a", "PartitionCount": 40}]}, {"Name": "ns-two", "Entities": []}`),
			Config{Logging: "File", Namespaces: []Namespace{{Name: "ns-one", Hubs: []Hub{{Name: "a", Partitions: 40}}}, {Name: "ns-two"}}}},
		{"a byte order mark, as Windows editors write",
			"\ufeff" + wrap(`{"Entities": [{"Name": "h", "PartitionCount": "3"}]}`),
			Config{Logging: "File", Namespaces: []Namespace{{Name: "emulatorNs1", Hubs: []Hub{{Name: "h", Partitions: 3}}}}}},
		{"EmulatorLimits within the caps",
			`{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Name": "emulatorNs1", "Entities": [{"Name": "h", "PartitionCount": 32}]}]}}`,
			Config{EmulatorLimits: true, Namespaces: []Namespace{{Name: "emulatorNs1", Hubs: []Hub{{Name: "h", Partitions: 32}}}}}},
	} {
		got, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	hub := func(h string) string { return wrap(`{"Name": "emulatorNs1", "Entities": [` + h + `]}`) }
	for _, tc := range []struct{ name, in, want string }{
		{"empty file", ``, "the file is not valid JSON"},
		{"not an object", `[1]`, "the file must be a JSON object {…}, not an array"},
		{"trailing garbage", `{"UserConfig": {"NamespaceConfig": [{"Entities": []}]}} x`, "more after its closing"},
		{"no UserConfig", `{}`, "UserConfig is missing"},
		{"unknown top-level key", `{"UserConfig": {}, "Extra": 1}`, `the top level has an unknown key "Extra"; the keys there are UserConfig`},
		{"unknown UserConfig key", `{"UserConfig": {"NamespaceConfig": [], "Kafka": {}}}`, `UserConfig has an unknown key "Kafka"`},
		{"no NamespaceConfig", `{"UserConfig": {"LoggingConfig": {"Type": "File"}}}`, "UserConfig.NamespaceConfig is missing"},
		{"empty NamespaceConfig", `{"UserConfig": {"NamespaceConfig": []}}`, "UserConfig.NamespaceConfig is empty"},
		{"NamespaceConfig not an array", `{"UserConfig": {"NamespaceConfig": {}}}`, "UserConfig.NamespaceConfig must be an array […], not an object"},
		{"key twice", `{"UserConfig": {"NamespaceConfig": [], "namespaceconfig": []}}`, `UserConfig has the key "namespaceconfig" twice`},
		{"bad logging type", `{"UserConfig": {"NamespaceConfig": [{"Entities": []}], "LoggingConfig": {"Type": "Syslog"}}}`, `UserConfig.LoggingConfig.Type is "Syslog"`},
		{"logging without Type", `{"UserConfig": {"NamespaceConfig": [{"Entities": []}], "LoggingConfig": {}}}`, "UserConfig.LoggingConfig.Type is missing"},
		{"unknown namespace key", wrap(`{"Entities": [], "Retention": 1}`), `UserConfig.NamespaceConfig[0] has an unknown key "Retention"; the keys there are Type, Name, Entities`},
		{"namespace type", wrap(`{"Type": "ServiceBus", "Entities": []}`), `UserConfig.NamespaceConfig[0].Type is "ServiceBus"; the only namespace type is "EventHub"`},
		{"namespace without Entities", wrap(`{"Name": "emulatorNs1"}`), "UserConfig.NamespaceConfig[0].Entities is missing"},
		{"empty namespace name", wrap(`{"Name": "", "Entities": []}`), "UserConfig.NamespaceConfig[0].Name is empty"},
		{"namespace name a number", wrap(`{"Name": 7, "Entities": []}`), "UserConfig.NamespaceConfig[0].Name must be a string, not the number 7"},
		{"namespace twice", wrap(`{"Name": "ns-one", "Entities": []}, {"Name": "NS-ONE", "Entities": []}`),
			`UserConfig.NamespaceConfig[1]: namespace "NS-ONE" is declared twice (also as "ns-one"`},
		{"hub without name", hub(`{"PartitionCount": 1}`), "UserConfig.NamespaceConfig[0].Entities[0].Name is missing"},
		{"hub without PartitionCount", hub(`{"Name": "h"}`), "UserConfig.NamespaceConfig[0].Entities[0].PartitionCount is missing"},
		{"zero partitions", hub(`{"Name": "h", "PartitionCount": 0}`), `Entities[0].PartitionCount of event hub "h" is 0; use 1 to 1024`},
		{"too many partitions", hub(`{"Name": "h", "PartitionCount": 1025}`), `PartitionCount of event hub "h" is 1025; use 1 to 1024`},
		{"fractional partitions", hub(`{"Name": "h", "PartitionCount": 2.5}`), "PartitionCount must be a whole number, not 2.5"},
		{"partition count not a number", hub(`{"Name": "h", "PartitionCount": "two"}`), `PartitionCount must be a whole number, not "two"`},
		{"unknown hub key", hub(`{"Name": "h", "PartitionCount": 1, "MessageRetentionInDays": 1}`),
			`Entities[0] has an unknown key "MessageRetentionInDays"; the keys there are Name, PartitionCount, ConsumerGroups`},
		{"hub twice", hub(`{"Name": "h", "PartitionCount": 1}, {"Name": "H", "PartitionCount": 2}`), `Entities[1]: event hub "H" is declared twice`},
		{"group without name", hub(`{"Name": "h", "PartitionCount": 1, "ConsumerGroups": [{}]}`), "ConsumerGroups[0].Name is missing"},
		{"group twice", hub(`{"Name": "h", "PartitionCount": 1, "ConsumerGroups": [{"Name": "cg"}, {"Name": "cg"}]}`),
			`ConsumerGroups[1]: consumer group "cg" is declared twice`},
		{"$default twice", hub(`{"Name": "h", "PartitionCount": 1, "ConsumerGroups": [{"Name": "$Default"}, {"Name": "$default"}]}`), `consumer group "$default" is declared twice`},
		{"unknown group key", hub(`{"Name": "h", "PartitionCount": 1, "ConsumerGroups": [{"Name": "cg", "Metadata": "x"}]}`), `ConsumerGroups[0] has an unknown key "Metadata"`},
		{"EmulatorLimits not a bool", `{"UserConfig": {"EmulatorLimits": "yes", "NamespaceConfig": [{"Entities": []}]}}`, "UserConfig.EmulatorLimits must be true or false, not a string"},
		{"EmulatorLimits: 33 partitions", `{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": [{"Name": "h", "PartitionCount": 33}]}]}}`,
			`PartitionCount of event hub "h" is 33; with EmulatorLimits the most is 32`},
		{"EmulatorLimits: another namespace name", `{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Name": "shop-ns", "Entities": [{"Name": "h", "PartitionCount": 1}]}]}}`,
			`UserConfig.NamespaceConfig[0].Name is "shop-ns"; with EmulatorLimits it must be "emulatorNs1"`},
		{"EmulatorLimits: no hubs", `{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": []}]}}`, "Entities has 0 event hubs; with EmulatorLimits use 1 to 10"},
	} {
		_, err := Parse([]byte(tc.in))
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse = %v\nwant InvalidArgument containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseEmulatorLimitsCounts(t *testing.T) {
	var hubs, groups []string
	for i := range 11 {
		hubs = append(hubs, `{"Name": "h`+string(rune('a'+i))+`", "PartitionCount": 1}`)
	}
	for i := range 20 {
		groups = append(groups, `{"Name": "g`+string(rune('a'+i))+`"}`)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": [` + strings.Join(hubs, ",") + `]}]}}`,
			"Entities has 11 event hubs; with EmulatorLimits use 1 to 10"},
		{`{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": [{"Name": "h", "PartitionCount": 1, "ConsumerGroups": [` + strings.Join(groups, ",") + `]}]}]}}`,
			`(event hub "h") has 21 consumer groups with $default; with EmulatorLimits the most is 20`},
		{`{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": [{"Name": "h", "PartitionCount": 1}]}, {"Name": "other-ns", "Entities": []}]}}`,
			"UserConfig.NamespaceConfig has 2 namespaces; with EmulatorLimits the most is 1"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse = %v\nwant an error containing %q", err, tc.want)
		}
		// Without the Tandem key the same file is fine: no caps.
		if _, err := Parse([]byte(strings.Replace(tc.in, `"EmulatorLimits": true, `, "", 1))); err != nil {
			t.Errorf("without EmulatorLimits: %v", err)
		}
	}
}

func TestLoadErrorNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "Config.json")
	if err := os.WriteFile(p, []byte(`{"UserConfig": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), "NamespaceConfig is missing") {
		t.Fatalf("Load = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("Load of a missing file = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"emulator-Config.json", "spring-boot-config.json", "python-function-Config.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"UserConfig": {"EmulatorLimits": true, "NamespaceConfig": [{"Entities": [{"Name": "h", "PartitionCount": "32", "ConsumerGroups": [{"Name": "$default"}]}]}]}}`))
	f.Add([]byte(`{"UserConfig": {"NamespaceConfig": [{"Entities": []}], "namespaceconfig": null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			if !errcode.Is(err, errcode.InvalidArgument) {
				t.Fatalf("Parse error %v is not InvalidArgument", err)
			}
			return
		}
		if len(cfg.Namespaces) == 0 {
			t.Fatal("a valid config without namespaces")
		}
		for _, ns := range cfg.Namespaces {
			if ns.Name == "" {
				t.Fatal("a namespace without a name")
			}
			for _, h := range ns.Hubs {
				if h.Name == "" || h.Partitions < 1 || h.Partitions > MaxPartitions || (cfg.EmulatorLimits && h.Partitions > EmulatorMaxPartitions) {
					t.Fatalf("hub %+v out of bounds", h)
				}
				for _, g := range h.Groups {
					if g == "" || isDefaultGroup(g) {
						t.Fatalf("hub %+v lists group %q", h, g)
					}
				}
			}
		}
		// Plan on an empty broker creates every namespace, hub and group once.
		plan, err := Plan(cfg, State{})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, ns := range cfg.Namespaces {
			want++
			for _, h := range ns.Hubs {
				want += 1 + len(h.Groups)
			}
		}
		if len(plan) != want {
			t.Fatalf("plan of %d actions for %d entities", len(plan), want)
		}
	})
}
