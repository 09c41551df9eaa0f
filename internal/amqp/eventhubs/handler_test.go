package eventhubs

import (
	"context"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// The CBS reply carries the request's message-id in its type and an int32 status code; a
// token that does not verify gets 401 and no claim.
func TestPutToken(t *testing.T) {
	f := newFixture(t, false)
	c := f.connect("localhost:5672") // names no namespace: the first token binds it
	for _, id := range []any{"string-id", uint64(99), goamqp.UUID{1, 2, 3}} {
		reply := request(t, incoming(t, c, "$cbs"), id, map[string]any{
			"operation": "put-token", "type": tokenTypeSAS, "name": "amqp://localhost:5672/hub1",
		}, f.token("amqp://localhost:5672/hub1", "RootManageSharedAccessKey", f.key))
		if status(reply) != int32(202) || reply.ApplicationProperties["status-description"] != "Accepted" {
			t.Fatalf("put-token reply %v", reply.ApplicationProperties)
		}
		if reply.Properties == nil || reply.Properties.CorrelationID != id {
			t.Fatalf("correlation-id %#v, want %#v (same type)", reply.Properties, id)
		}
	}
	if ns, _, _ := c.namespace(); ns != "amqpns1" {
		t.Fatalf("the token bound the connection to %q, want ns1", ns)
	}
	// Wrong key.
	c2 := f.connect("localhost:5672")
	reply := putToken(t, c2, "sb://localhost/hub1", f.token("sb://localhost/hub1", "RootManageSharedAccessKey", "d3Jvbmc="))
	if status(reply) != int32(401) || !strings.Contains(reply.ApplicationProperties["status-description"].(string), `rule "RootManageSharedAccessKey" whose key signed this token`) {
		t.Fatalf("wrong key: %v", reply.ApplicationProperties)
	}
	if _, ferr := c2.AttachIncoming(context.Background(), &frames.Attach{Target: &frames.Target{Address: "hub1"}}); ferr == nil {
		t.Fatal("a connection whose token was refused attached a sender")
	}
	// A token for one hub does not cover another.
	c3 := f.connect("amqpns1")
	if reply := putToken(t, c3, "sb://amqpns1/hub2", f.token("sb://amqpamqpns1/hub1", "RootManageSharedAccessKey", f.key)); status(reply) != int32(401) {
		t.Fatalf("token for hub1 put for hub2: %v", reply.ApplicationProperties)
	}
	// Missing pieces are 400.
	if reply := request(t, incoming(t, c3, "$cbs"), "x", map[string]any{"operation": "put-token", "type": tokenTypeSAS}, "tok"); status(reply) != int32(400) {
		t.Fatalf("no audience: %v", reply.ApplicationProperties)
	}
}

// Claims belong to the connection; a link needs the right on its hub.
func TestAttachNeedsClaim(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	if _, err := f.b.PutPolicy(ctx, "amqpns1", "", "listen-only", []string{"Listen"}); err != nil {
		t.Fatal(err)
	}
	pol, _ := f.b.Policy("amqpns1", "", "listen-only")
	c := f.connect("amqpns1:5672")
	_, ferr := c.AttachIncoming(ctx, &frames.Attach{Name: "s", Target: &frames.Target{Address: "hub1"}})
	if ferr == nil || ferr.Condition != condUnauthorized || !strings.Contains(ferr.Description, "hub1") || !strings.Contains(ferr.Description, "Send") {
		t.Fatalf("sender without a claim: %v", ferr)
	}
	if reply := putToken(t, c, "amqp://amqpns1:5672/hub1", f.token("amqp://amqpns1:5672/hub1", "listen-only", pol.PrimaryKey)); status(reply) != int32(202) {
		t.Fatalf("put-token: %v", reply.ApplicationProperties)
	}
	_, ferr = c.AttachIncoming(ctx, &frames.Attach{Name: "s", Target: &frames.Target{Address: "hub1"}})
	if ferr == nil || ferr.Condition != condUnauthorized || !strings.Contains(ferr.Description, `"listen-only" does not grant Send on event hub amqpns1/hub1`) {
		t.Fatalf("sender with a Listen claim: %v", ferr)
	}
	out, ferr := c.AttachOutgoing(ctx, receiverAttach("hub1/ConsumerGroups/$Default/Partitions/0", "", nil, "r1"))
	if ferr != nil {
		t.Fatalf("receiver with a Listen claim: %v", ferr)
	}
	out.Close()
	// A hub-level rule: its token binds the connection, and the hub is found ignoring case.
	hubPol, err := f.b.PutPolicy(ctx, "amqpns1", "hub1", "hub-send", []string{"Send"})
	if err != nil {
		t.Fatal(err)
	}
	hc := f.connect("localhost:5672")
	if reply := putToken(t, hc, "sb://localhost/hub1", f.token("sb://localhost/hub1", "hub-send", hubPol.PrimaryKey)); status(reply) != int32(202) {
		t.Fatalf("hub-level token: %v", reply.ApplicationProperties)
	}
	if _, ferr := hc.AttachIncoming(ctx, &frames.Attach{Name: "s", Target: &frames.Target{Address: "HUB1/Partitions/0"}}); ferr != nil {
		t.Fatalf("sender with a hub-level Send claim: %v", ferr)
	}
	if _, ferr := hc.AttachOutgoing(ctx, receiverAttach("hub1/ConsumerGroups/$Default/Partitions/0", "", nil, "r2")); ferr == nil || ferr.Condition != condUnauthorized {
		t.Fatalf("receiver with a Send-only claim: %v", ferr)
	}
	// Anonymous connections are refused outside dev mode, and act as the dev principal in it.
	anon := f.connect("localhost")
	if _, ferr := anon.AttachIncoming(ctx, &frames.Attach{Target: &frames.Target{Address: "hub1"}}); ferr == nil || ferr.Condition != condUnauthorized {
		t.Fatalf("anonymous sender outside dev mode: %v", ferr)
	}
}

func TestDevMode(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	if err := f.b.CreateHub(ctx, broker.DevNamespace, broker.HubSpec{Name: "devhub", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	anon := f.connect("localhost:5672")
	if _, ferr := anon.AttachIncoming(ctx, &frames.Attach{Target: &frames.Target{Address: "devhub"}}); ferr != nil {
		t.Fatalf("anonymous dev sender: %v", ferr)
	}
	// The emulator's connection string signs with the placeholder key.
	emu := f.connect("localhost:5672")
	if reply := putToken(t, emu, "amqp://localhost:5672/devhub", f.token("amqp://localhost:5672/devhub", emulatorKeyName, emulatorKey)); status(reply) != int32(202) {
		t.Fatalf("emulator token: %v", reply.ApplicationProperties)
	}
	if _, ferr := emu.AttachIncoming(ctx, &frames.Attach{Target: &frames.Target{Address: "devhub/Partitions/1"}}); ferr != nil {
		t.Fatalf("emulator-token sender: %v", ferr)
	}
	// A real token of ns1 binds the connection to ns1 even in dev mode.
	c := f.connect("localhost:5672")
	if reply := putToken(t, c, "amqp://localhost:5672/hub1", f.token("amqp://localhost:5672/hub1", "RootManageSharedAccessKey", f.key)); status(reply) != int32(202) {
		t.Fatalf("ns1 token: %v", reply.ApplicationProperties)
	}
	if ns, _, _ := c.namespace(); ns != "amqpns1" {
		t.Fatalf("connection in %q", ns)
	}
}

func TestManagementRead(t *testing.T) {
	f := newFixture(t, false)
	c := f.connect("localhost:5672")
	tok := f.token("amqp://localhost:5672/hub1/$management", "RootManageSharedAccessKey", f.key)
	if reply := putToken(t, c, "amqp://localhost:5672/hub1/$management", tok); status(reply) != int32(202) {
		t.Fatalf("put-token: %v", reply.ApplicationProperties)
	}
	mgmt := incoming(t, c, "$management")
	read := func(props map[string]any) *goamqp.Message {
		props["operation"] = "READ"
		return request(t, mgmt, "m1", props, []byte("[]"))
	}
	reply := read(map[string]any{"type": typeEventHub, "name": "hub1", "security_token": tok})
	body, ok := reply.Value.(map[string]any)
	if status(reply) != int32(200) || !ok {
		t.Fatalf("READ eventhub: %v %#v", reply.ApplicationProperties, reply.Value)
	}
	hub, _ := f.b.Hub("amqpns1", "hub1")
	if body["name"] != "hub1" || body["partition_count"] != int32(4) || body["georeplication_factor"] != int32(1) {
		t.Errorf("hub properties %#v", body)
	}
	if ids, ok := body["partition_ids"].([]string); !ok || strings.Join(ids, ",") != "0,1,2,3" {
		t.Errorf("partition_ids %#v (must decode as []string: an array of strings)", body["partition_ids"])
	}
	if ca, ok := body["created_at"].(time.Time); !ok || !ca.Equal(hub.CreatedAt.Truncate(time.Millisecond)) {
		t.Errorf("created_at %#v, want %v", body["created_at"], hub.CreatedAt)
	}

	// An empty partition.
	reply = read(map[string]any{"type": typePartition, "name": "hub1", "partition": "2"})
	body, _ = reply.Value.(map[string]any)
	if body["begin_sequence_number"] != int64(-1) || body["last_enqueued_sequence_number"] != int64(-1) ||
		body["last_enqueued_offset"] != "-1" || body["is_partition_empty"] != true || body["partition"] != "2" {
		t.Errorf("empty partition %#v", body)
	}
	if lt, ok := body["last_enqueued_time_utc"].(time.Time); !ok || lt.Unix() != 0 {
		t.Errorf("empty partition's last_enqueued_time_utc %#v", body["last_enqueued_time_utc"])
	}
	// After three events.
	recs := []batch.Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}
	res, err := f.b.AppendRecords(context.Background(), "amqpns1", "hub1", 2, recs)
	if err != nil {
		t.Fatal(err)
	}
	reply = read(map[string]any{"type": typePartition, "name": "hub1", "partition": "2"})
	body, _ = reply.Value.(map[string]any)
	if body["begin_sequence_number"] != int64(0) || body["last_enqueued_sequence_number"] != int64(2) ||
		body["last_enqueued_offset"] != "2" || body["is_partition_empty"] != false {
		t.Errorf("partition after 3 events %#v", body)
	}
	if lt, ok := body["last_enqueued_time_utc"].(time.Time); !ok || lt.UnixMilli() != res.AppendTime {
		t.Errorf("last_enqueued_time_utc %#v, want %d ms", body["last_enqueued_time_utc"], res.AppendTime)
	}
	// Errors.
	for _, tc := range []struct {
		props  map[string]any
		status int32
		cond   string
	}{
		{map[string]any{"type": typePartition, "name": "hub1", "partition": "4"}, 404, string(condArgumentOutRange)},
		{map[string]any{"type": typePartition, "name": "hub1", "partition": "x"}, 404, string(condArgumentOutRange)},
		{map[string]any{"type": "com.microsoft:nothing", "name": "hub1"}, 400, string(condNotImplemented)},
		{map[string]any{"type": typeEventHub, "name": "nohub", "security_token": f.token("sb://h/nohub", "RootManageSharedAccessKey", f.key)}, 404, string(condNotFound)},
		{map[string]any{"type": typeEventHub, "name": "hub1", "security_token": "SharedAccessSignature sr=x&sig=y&se=1&skn=z"}, 200, ""}, // the claim suffices
	} {
		reply := read(tc.props)
		if status(reply) != tc.status || (tc.cond != "" && reply.ApplicationProperties["error-condition"] != tc.cond) {
			t.Errorf("READ %v: %v", tc.props, reply.ApplicationProperties)
		}
	}
	// Without a claim, the request's security_token authorizes it; a bad one does not.
	c2 := f.connect("amqpns1")
	m2 := incoming(t, c2, "$management")
	if r := request(t, m2, "m", map[string]any{"operation": "READ", "type": typeEventHub, "name": "hub1", "security_token": tok}, nil); status(r) != int32(200) {
		t.Errorf("READ with security_token only: %v", r.ApplicationProperties)
	}
	if r := request(t, m2, "m", map[string]any{"operation": "READ", "type": typeEventHub, "name": "hub1"}, nil); status(r) != int32(401) {
		t.Errorf("READ without claim or token: %v", r.ApplicationProperties)
	}
}

// SASL PLAIN authenticates the whole connection: $ConnectionString with a connection string,
// or a rule name with its key; wrong credentials refuse the connection.
func TestSASLPlain(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		host, user, pass string
		ok               bool
	}{
		"connection string": {"localhost:5672", broker.ConnectionStringUser, "Endpoint=sb://amqpns1/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + f.key, true},
		"rule and key":      {"amqpns1:5672", "RootManageSharedAccessKey", f.key, true},
		"wrong key":         {"amqpns1:5672", "RootManageSharedAccessKey", "d3Jvbmc=", false},
		"no namespace":      {"localhost:5672", "RootManageSharedAccessKey", f.key, false},
	} {
		c, ferr := f.h.Connect(ctx, amqp.ConnInfo{Hostname: tc.host, SASLMechanism: "PLAIN", SASLUser: tc.user, SASLPassword: tc.pass})
		if !tc.ok {
			if ferr == nil || ferr.Condition != condUnauthorized {
				t.Errorf("%s: connection %v", name, ferr)
			}
			continue
		}
		if ferr != nil {
			t.Fatalf("%s: %v", name, ferr)
		}
		if _, ferr := c.AttachIncoming(ctx, &frames.Attach{Target: &frames.Target{Address: "hub1"}}); ferr != nil {
			t.Errorf("%s: sender without CBS: %v", name, ferr)
		}
		c.Close()
	}
}
