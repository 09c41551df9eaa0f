package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
)

func connString(t *testing.T, b *broker.Broker, ns, hub, rule string) string {
	t.Helper()
	pol, err := b.Policy(ns, hub, rule)
	if err != nil {
		t.Fatal(err)
	}
	cs := auth.ConnectionString{Endpoint: "sb://" + ns + "/", SharedAccessKeyName: rule, SharedAccessKey: pol.PrimaryKey}
	return cs.String()
}

func saslOpt(password string) kgo.Opt {
	return kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: password}.AsMechanism())
}

func TestSASLConnectionString(t *testing.T) {
	n := startNode(t, t.TempDir(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "payments"}); err != nil {
		t.Fatal(err)
	}
	n.createHub(t, "payments", "txns", 2)
	n.createHub(t, "payments", "audit", 1)
	cs := connString(t, n.b, "payments", "", "RootManageSharedAccessKey")

	cl := n.client(t, saslOpt(cs), kgo.DefaultProduceTopic("txns"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce with the root connection string: %v", err)
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !topics.Has("txns") || !topics.Has("audit") {
		t.Fatalf("metadata lists %v, want txns and audit", topics.Names())
	}

	// A send-only policy cannot read; EntityPath scopes the connection to one hub.
	if _, err := n.b.PutPolicy(ctx, "payments", "", "sender", []string{"Send"}); err != nil {
		t.Fatal(err)
	}
	sendCS := connString(t, n.b, "payments", "", "sender") + ";EntityPath=txns"
	sender := n.client(t, saslOpt(sendCS), kgo.DefaultProduceTopic("txns"))
	if err := sender.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("send with a Send policy: %v", err)
	}
	scoped, err := kadm.NewClient(sender).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if scoped.Has("audit") {
		t.Errorf("a connection string with EntityPath=txns sees hub audit")
	}
	lo, err := kadm.NewClient(sender).ListEndOffsets(ctx, "txns")
	if err == nil {
		lo.Each(func(o kadm.ListedOffset) { err = o.Err })
	}
	if !errorsIs(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("a Send-only policy listed offsets: err=%v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func errorsIs(err error, want *kerr.Error) bool {
	return err != nil && strings.Contains(err.Error(), want.Message)
}

func TestSASLRejections(t *testing.T) {
	n := startNode(t, t.TempDir(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "payments"}); err != nil {
		t.Fatal(err)
	}
	good := connString(t, n.b, "payments", "", "RootManageSharedAccessKey")
	cases := map[string]kgo.Opt{
		"wrong key":               saslOpt(strings.Replace(good, "SharedAccessKey=", "SharedAccessKey=AAAA", 1)),
		"unknown namespace":       saslOpt(strings.Replace(good, "sb://payments/", "sb://nosuchns/", 1)),
		"not a connection string": saslOpt("hunter2"),
		"wrong user":              kgo.SASL(plain.Auth{User: "admin", Pass: good}.AsMechanism()),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			cl := n.client(t, opt, kgo.RequestRetries(0))
			err := cl.Ping(ctx)
			if err == nil || !strings.Contains(err.Error(), "SASL") && !strings.Contains(err.Error(), "authentication") {
				t.Fatalf("connection was not refused: %v", err)
			}
		})
	}
	// Without SASL and without --dev the connection is closed.
	cl := n.client(t, kgo.RequestRetries(0))
	if err := cl.Ping(ctx); err == nil {
		t.Fatal("an anonymous client was served without --dev")
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	n.createHub(t, "default", "timed", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t, kgo.DefaultProduceTopic("timed"))
	var marks []time.Time
	for i := 0; i < 3; i++ {
		res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}})
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		part, _ := n.b.Partition("default", "timed", 0)
		enqueued := part.LastEnqueuedTime() // the enqueued time the broker stamped
		marks = append(marks, time.UnixMilli(enqueued))
		// Make the next batch's enqueued time strictly later: wait for the clock to pass it.
		for time.Now().UnixMilli() <= enqueued {
			time.Sleep(time.Millisecond)
		}
	}
	adm := kadm.NewClient(cl)
	for i, m := range marks {
		offs, err := adm.ListOffsetsAfterMilli(ctx, m.UnixMilli(), "timed")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("timed", 0)
		if o.Offset != int64(i) {
			t.Errorf("offset at or after enqueued time of record %d = %d, want %d", i, o.Offset, i)
		}
	}
	offs, err := adm.ListOffsetsAfterMilli(ctx, marks[2].UnixMilli()+60_000, "timed")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("timed", 0); o.Offset != 3 {
		t.Errorf("offset after the last event = %d, want the end offset 3", o.Offset)
	}
}

func TestBadInput(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.b.CreateHub(ctx, "default", broker.HubSpec{Name: "tiny", Partitions: 1, MaxEventBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	cl := n.client(t, kgo.DefaultProduceTopic("tiny"), kgo.RecordRetries(0))
	err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 4096)}).FirstErr()
	if err == nil || !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
		t.Errorf("oversized event: got %v, want MESSAGE_TOO_LARGE", err)
	}
	adm := kadm.NewClient(cl)
	for _, parts := range []int32{0, 2000} {
		resp, err := adm.CreateTopic(ctx, parts, 1, nil, "bad")
		if err == nil {
			err = resp.Err
		}
		if err == nil || resp.ErrMessage == "" || !strings.Contains(resp.ErrMessage, "partition") {
			t.Errorf("hub with %d partitions: err=%v message=%q, want a message about the partition count", parts, err, resp.ErrMessage)
		}
	}
	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kmsgStr("3600000")}, "good")
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	h, err := n.b.Hub("default", "good")
	if err != nil || h.Partitions != 3 || h.RetentionTime != time.Hour {
		t.Fatalf("created hub = %+v, %v", h, err)
	}
}

func kmsgStr(s string) *string { return &s }

func TestIPFilterRefusesKafkaClients(t *testing.T) {
	n := startNode(t, t.TempDir(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "private-ns", DefaultAction: "Deny", IPRules: []string{"10.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	cs := connString(t, n.b, "private-ns", "", "RootManageSharedAccessKey")
	cl := n.client(t, saslOpt(cs), kgo.RequestRetries(0))
	if err := cl.Ping(ctx); err == nil || !strings.Contains(err.Error(), "IP filter") {
		t.Fatalf("a client outside the IP filter connected: %v", err)
	}
	if _, err := n.b.UpdateNamespace(ctx, broker.NamespaceSpec{Name: "private-ns", DefaultAction: "Deny", IPRules: []string{"127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	cl = n.client(t, saslOpt(cs))
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("a client inside the IP filter was refused: %v", err)
	}
}
