package kafka_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// shopNode is a node with namespace shop-eu1 and hub payments (2 partitions).
func shopNode(t *testing.T) (*node, context.Context) {
	t.Helper()
	n := startNode(t, t.TempDir(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "shop-eu1"}); err != nil {
		t.Fatal(err)
	}
	n.createHub(t, "shop-eu1", "payments", 2)
	return n, ctx
}

func topicNames(t *testing.T, ctx context.Context, cl *kgo.Client) []string {
	t.Helper()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return topics.Names()
}

// seedOldLog writes the metadata of the audit's H4 state as older Tandem allowed it:
// namespace shop-eu1 with hubs payments, PAYMENTS and PaYmEnTs, and rule sender (Send) on
// payments.
func seedOldLog(t *testing.T, dir string) {
	t.Helper()
	st, err := meta.Open(meta.StoreOptions{Dir: filepath.Join(dir, "meta"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var keys [4]string
	for i := range keys {
		keys[i], _ = auth.GenerateKey()
	}
	at := time.Now().UTC()
	cmds := []meta.Command{
		meta.CreateNamespace{Namespace: "shop-eu1", RootPrimaryKey: keys[0], RootSecondaryKey: keys[1], Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "payments", PartitionCount: 2, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "PAYMENTS", PartitionCount: 2, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "PaYmEnTs", PartitionCount: 1, Time: at},
		meta.PutPolicy{Namespace: "shop-eu1", Hub: "payments", Name: "sender", Rights: auth.Rights{auth.Send},
			PrimaryKey: keys[2], SecondaryKey: keys[3], Time: at},
	}
	for i, c := range cmds {
		if err := st.Apply(context.Background(), []meta.Entry{{Index: uint64(i + 1), Command: c}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// The audit's H4 over Kafka: the hub-level rule sender of payments (EntityPath=payments)
// produced to PAYMENTS, and its Metadata listed PAYMENTS(2) PaYmEnTs(1024) payments(2). The
// variants exist here as a node upgraded with them would hold them.
func TestAuditH4_KafkaHubRuleReachesOnlyItsHub(t *testing.T) {
	dir := t.TempDir()
	seedOldLog(t, dir)
	n := startNode(t, dir, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sendCS := connString(t, n.b, "shop-eu1", "payments", "sender") + ";EntityPath=payments"
	sender := n.client(t, saslOpt(sendCS), kgo.RecordRetries(2), kgo.UnknownTopicRetries(1))
	if err := sender.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte("mine")}).FirstErr(); err != nil {
		t.Fatalf("produce to the rule's own hub: %v", err)
	}
	for _, topic := range []string{"PAYMENTS", "PaYmEnTs"} {
		// Out-of-scope hubs read as unknown (their existence is not told), so the client
		// refuses before sending; a raw Produce, as an attacker would send it, is refused too.
		err := sender.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("theirs")}).FirstErr()
		if !errorsIs(err, kerr.UnknownTopicOrPartition) {
			t.Errorf("produce to %s with the payments rule: %v, want UNKNOWN_TOPIC_OR_PARTITION", topic, err)
		}
		if code := rawProduce(t, ctx, sender, topic); code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("raw produce to %s with the payments rule: error code %d, want UNKNOWN_TOPIC_OR_PARTITION", topic, code)
		}
	}
	if got := topicNames(t, ctx, sender); strings.Join(got, ",") != "payments" {
		t.Errorf("the payments rule's metadata lists %v, want payments only", got)
	}
	root := n.client(t, saslOpt(connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey")))
	ends, err := kadm.NewClient(root).ListEndOffsets(ctx, "PAYMENTS", "PaYmEnTs")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != 0 {
			t.Errorf("%s/%d ends at %d (%v), want 0: the payments rule wrote to another hub", o.Topic, o.Partition, o.Offset, o.Err)
		}
	})

	resp, err := kadm.NewClient(root).CreateTopic(ctx, 2, 1, nil, "Payments")
	if err == nil {
		err = resp.Err
	}
	if err == nil || !strings.Contains(resp.ErrMessage, "differs only in case") {
		t.Fatalf("creating a fourth variant: %v %q, want a refusal naming the case rule", err, resp.ErrMessage)
	}
	if hubs := n.b.Hubs("shop-eu1"); len(hubs) != 3 {
		t.Fatalf("hubs: %v, want the three old ones", hubs)
	}
}

// rawProduce sends one record to partition 0 of topic in a hand-built Produce request and
// returns the partition's error code.
func rawProduce(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch.Build([]batch.Record{{Value: []byte("theirs")}}, batch.BuildOptions{ProducerID: -1, Timestamp: time.Now().UnixMilli()})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// On a fresh node, PAYMENTS cannot be created beside payments over Kafka either.
func TestAuditH4_KafkaCaseVariantRefused(t *testing.T) {
	n, ctx := shopNode(t)
	root := n.client(t, saslOpt(connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey")))
	resp, err := kadm.NewClient(root).CreateTopic(ctx, 2, 1, nil, "PAYMENTS")
	if err == nil {
		err = resp.Err
	}
	if err == nil || !strings.Contains(resp.ErrMessage, `"payments"`) || !strings.Contains(resp.ErrMessage, "case") {
		t.Fatalf("creating PAYMENTS beside payments: %v %q, want a refusal naming payments", err, resp.ErrMessage)
	}
}

// A hub-scoped credential never creates hubs over Kafka: not with a hub-level Manage rule,
// not with the namespace's Manage rule narrowed by EntityPath.
func TestAuditH4_KafkaHubScopedCannotCreateTopics(t *testing.T) {
	n, ctx := shopNode(t)
	if _, err := n.b.PutPolicy(ctx, "shop-eu1", "payments", "owner", []string{"Manage", "Send", "Listen"}); err != nil {
		t.Fatal(err)
	}
	for name, cs := range map[string]string{
		"hub-level Manage":            connString(t, n.b, "shop-eu1", "payments", "owner") + ";EntityPath=payments",
		"namespace Manage narrowed":   connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey") + ";EntityPath=payments",
		"namespace Manage, new scope": connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey") + ";EntityPath=newhub",
	} {
		cl := n.client(t, saslOpt(cs))
		for _, topic := range []string{"newhub", "PaYmEnTs"} {
			resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1024, 1, nil, topic)
			if err == nil {
				err = resp.Err
			}
			if !errorsIs(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("%s creating %s: %v, want TOPIC_AUTHORIZATION_FAILED", name, topic, err)
			}
		}
	}
	if hubs := n.b.Hubs("shop-eu1"); len(hubs) != 1 {
		t.Fatalf("hubs: %v, want payments only", hubs)
	}
	// The hub-level Manage rule still manages its own hub.
	owner := n.client(t, saslOpt(connString(t, n.b, "shop-eu1", "payments", "owner")+";EntityPath=payments"))
	if _, err := kadm.NewClient(owner).CreatePartitions(ctx, 3, "payments"); err != nil {
		t.Fatalf("adding partitions to the own hub: %v", err)
	}
}

// The audit's L4 over Kafka: topic names must start and end with a letter or digit, as every
// event hub name does (Kafka itself allows a leading underscore; a topic here is an event hub).
func TestAuditL4_KafkaDotTopicsRefused(t *testing.T) {
	n, ctx := shopNode(t)
	root := n.client(t, saslOpt(connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey")))
	adm := kadm.NewClient(root)
	for _, topic := range []string{".", "..", "...", "_schemas", "trailing-"} {
		resp, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil || !strings.Contains(resp.ErrMessage, "start and end with a letter or digit") {
			t.Errorf("creating topic %q: %v %q, want refused with the naming rule", topic, err, resp.ErrMessage)
		}
	}
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "a.b-c_d"); err != nil || resp.Err != nil {
		t.Fatalf("creating a.b-c_d: %v %v", err, resp.Err)
	}
	if hubs := n.b.Hubs("shop-eu1"); len(hubs) != 2 {
		t.Fatalf("hubs: %v", hubs)
	}
}

// The audit's M1(d) over Kafka: record headers did not count toward the max event size. At a
// smaller scale than the audit's 2,000,000 properties: 80,000 headers (1.28 MB) on a hub with
// a 1 MiB max event size and a 5-byte value.
func TestAuditM1d_KafkaHeadersCountTowardMaxEventSize(t *testing.T) {
	n, ctx := shopNode(t)
	cl := n.client(t, saslOpt(connString(t, n.b, "shop-eu1", "", "RootManageSharedAccessKey")),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.RecordRetries(1))
	rec := &kgo.Record{Topic: "payments", Partition: 0, Value: []byte("small")}
	for i := range 80_000 {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: fmt.Sprintf("p%06d", i), Value: []byte(fmt.Sprintf("v%06d", i))})
	}
	err := cl.ProduceSync(ctx, rec).FirstErr()
	if !errorsIs(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of a record with 1.28 MB of headers: %v, want MESSAGE_TOO_LARGE", err)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != 0 {
			t.Errorf("partition %d ends at %d (%v) after a refused produce, want 0", o.Partition, o.Offset, o.Err)
		}
	})
	ok := &kgo.Record{Topic: "payments", Value: []byte("fits"), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}}}
	if err := cl.ProduceSync(ctx, ok).FirstErr(); err != nil {
		t.Fatalf("produce of a record with a small header: %v", err)
	}
}
