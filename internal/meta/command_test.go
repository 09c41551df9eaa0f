package meta

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// allCommands has one command of every type, with every field set.
func allCommands() []Command {
	return []Command{
		CreateNamespace{Namespace: ns, Tier: Dedicated, Cluster: "c1", Labels: map[string]string{"a": "b"},
			NetworkRules:   NetworkRules{DefaultAction: Deny, IPRules: []IPRule{{"10.0.0.0/8", Allow}}, PrivateEndpoints: []string{"10.0.0.1:9093"}},
			RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0},
		UpdateNamespace{Namespace: ns, Tier: Basic, NetworkRules: &NetworkRules{DefaultAction: Allow}, SetLabels: map[string]string{"x": "y"},
			DeleteLabels: []string{"a"}, Time: t0},
		DeleteNamespace{Namespace: ns},
		PutPolicy{Namespace: ns, Hub: "h", Name: "p", Rights: auth.Rights{auth.Send, auth.Listen}, PrimaryKey: key1, SecondaryKey: key2, Time: t0},
		DeletePolicy{Namespace: ns, Hub: "h", Name: "p", Time: t0},
		RegenerateKey{Namespace: ns, Hub: "h", Name: "p", KeyType: PrimaryKey, Key: key3, Time: t0},
		CreateHub{Namespace: ns, Hub: "h", PartitionCount: 8, RetentionTime: time.Hour, RetentionBytes: 5, MaxEventBytes: 2048, Status: Active, Time: t0},
		UpdateHub{Namespace: ns, Hub: "h", PartitionCount: 9, RetentionTime: 2 * time.Hour, RetentionBytes: ptr[int64](0), MaxEventBytes: 4096,
			Status: Disabled, Time: t0},
		DeleteHub{Namespace: ns, Hub: "h"},
		CreateGroup{Namespace: ns, Hub: "h", Group: "g", UserMetadata: "u", Time: t0},
		DeleteGroup{Namespace: ns, Hub: "h", Group: "g"},
		CommitOffsets{Namespace: ns, Group: "g", Hub: "h", Offsets: []PartitionOffset{{1, 2, "m"}}, Time: t0},
		DeleteOffsets{Namespace: ns, Group: "g", Hub: "h", Partitions: []int32{1}},
		SetAlias{Namespace: ns, Alias: AliasConfig{Name: "orders-alias", Role: RolePrimary, Partner: &Peer{Endpoint: "http://127.0.0.1:8081",
			Region: "east", Namespace: "orders-east", Kafka: []string{"127.0.0.1:9192"}, NodeID: 7}, LinkKey: "k", Through: 3,
			Epoch: 1, ProvisioningState: "Succeeded", UpdatedAt: t0}, Time: t0},
		Replicated{Namespace: ns, Alias: "orders-alias", Through: 9, Command: CreateGroup{Namespace: ns, Hub: "h", Group: "g", Time: t0}},
		Replicated{Namespace: ns, Alias: "orders-alias", Through: 10},
		ClearAlias{Namespace: ns, Time: t0},
		RetireAlias{Namespace: ns, Time: t0},
		ReleaseAlias{Alias: "orders-alias", Time: t0},
		ClusterMembers{Members: []Member{{ID: 2, Zone: "b", Name: "node-2"}, {ID: 1, Zone: "a", Name: "n1"}}},
		SetMemberEndpoints{ID: 2, Endpoints: Endpoints{Kafka: "127.0.0.2:9092", KafkaTLS: "127.0.0.2:9093", HTTP: "https://127.0.0.2:8080"}},
		PutJob{Name: "j", Definition: json.RawMessage(`{"spec":{}}`), Create: true, Restart: true, IfVersion: 4, Time: t0},
		DeleteJob{Name: "j", IfVersion: 4},
		AcquireJobLease{Name: "j", Node: 2, Now: t0, Expires: t0.Add(time.Second)},
		ReleaseJobLease{Name: "j", Node: 2, Seq: 3},
		SaveJobCheckpoint{Name: "j", Node: 2, Seq: 3, Number: 5, Data: []byte{1, 2}},
		ClaimOwnership{Namespace: ns, Hub: "h", Group: "g", Claims: []OwnershipClaim{{Partition: 1, OwnerID: "o", IfMatch: "e1", ETag: "e2"}}, Time: t0},
		ClaimOwnerLevel{Namespace: ns, Hub: "h", Group: "g", Partition: 1, Epoch: ptr[int64](3), Node: 2, Receiver: "r", ID: 9, Reassert: true},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	cmds := allCommands()
	types := map[CommandType]bool{}
	for _, c := range cmds {
		types[c.Type()] = true
	}
	if len(types) != len(CommandTypes()) {
		t.Fatalf("allCommands covers %d of %d command types", len(types), len(CommandTypes()))
	}
	for _, c := range cmds {
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `{"v":1,"type":"`+string(c.Type())+`",`) {
			t.Fatalf("encoding of %s: %s", c.Type(), b)
		}
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", c.Type(), got, c)
		}
		eb, err := json.Marshal(Entry{Index: 7, Command: c})
		if err != nil {
			t.Fatal(err)
		}
		var e Entry
		if err := json.Unmarshal(eb, &e); err != nil || e.Index != 7 || !reflect.DeepEqual(e.Command, c) {
			t.Fatalf("entry round trip %s: %+v %v", eb, e, err)
		}
	}
}

func TestCommandGolden(t *testing.T) {
	// The JSON form is a stable format shipped between regions: changing it breaks old logs.
	b, err := EncodeCommand(CreateHub{Namespace: "ns1-ns", Hub: "orders", PartitionCount: 8, Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"type":"CreateHub","ns":"ns1-ns","hub":"orders","partitionCount":8,"time":"2025-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = EncodeCommand(DeleteNamespace{})
	if string(b) != `{"v":1,"type":"DeleteNamespace","ns":""}` {
		t.Fatalf("got %s", b)
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code errcode.Code
		msg  string
	}{
		{`{"v":1,"type":"MakeCoffee"}`, errcode.UnsupportedVersion, `unknown metadata command type "MakeCoffee"`},
		{`{"v":2,"type":"CreateHub"}`, errcode.UnsupportedVersion, "version 2 is not supported"},
		{`{"type":"CreateHub"}`, errcode.UnsupportedVersion, "version 0"},
		{`[1]`, errcode.CorruptData, "not a JSON object"},
		{`{"v":1,"type":"CreateHub","partitionCount":"many"}`, errcode.CorruptData, "decoding CreateHub"},
	} {
		_, err := DecodeCommand([]byte(tc.in))
		if !errcode.Is(err, tc.code) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("DecodeCommand(%s) = %v; want %s containing %q", tc.in, err, tc.code, tc.msg)
		}
	}
	if _, err := EncodeCommand(nil); err == nil {
		t.Error("EncodeCommand(nil) succeeded")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range allCommands() {
		b, _ := EncodeCommand(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		_ = baseStateF().Apply(100, c) // must not panic on any decoded command
		b2, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeCommand(b2)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b2, err)
		}
		b3, _ := EncodeCommand(c2)
		if string(b2) != string(b3) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b2, b3)
		}
	})
}

func baseStateF() *State {
	s := NewState()
	for i, c := range baseCommands() {
		if err := s.Apply(uint64(i+1), c); err != nil {
			panic(err)
		}
	}
	return s
}
