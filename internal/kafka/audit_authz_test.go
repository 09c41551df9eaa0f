package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/kafka"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// Regression tests for the audit's authorization findings (security-2026-12.md): H3 (the
// consumer-group APIs had no authorization), H5 (a Kafka connection kept the rights it was
// granted at SASL time forever), M6 (a Listen-only credential created consumer groups through
// OffsetCommit) and M1(c) (JoinGroup metadata was unbounded and kept for 30 minutes).

// authzNode is a non-dev broker and Kafka listener with options the test chooses, and a clock
// the test can move forward.
type authzNode struct {
	b     *broker.Broker
	addr  string
	clock atomic.Int64 // offset added to the wall clock, in nanoseconds
}

func startAuthzNode(t *testing.T, quotas broker.Quotas) *authzNode {
	t.Helper()
	n := &authzNode{}
	b, err := broker.Open(context.Background(), broker.Options{
		DataDir: t.TempDir(), Logger: quietLogger(), Quotas: quotas,
		Fsync: seglog.FsyncPolicy{Mode: seglog.FsyncInterval, Interval: 2e6},
		Now:   func() time.Time { return time.Now().Add(time.Duration(n.clock.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := kafka.New(ln, kafka.Options{Broker: b, Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() { srv.Close(); <-done; b.Close() })
	n.b, n.addr = b, ln.Addr().String()
	return n
}

func (n *authzNode) client(t *testing.T, password string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(n.addr), saslOpt(password), kgo.RequestRetries(2),
		kgo.RetryTimeout(5 * time.Second), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// shop sets up namespace ns with hubs orders (2 partitions) and payments (1), and returns
// the root connection string.
func (n *authzNode) shop(t *testing.T, ns string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: ns}); err != nil {
		t.Fatal(err)
	}
	for hub, parts := range map[string]int32{"orders": 2, "payments": 1} {
		if err := n.b.CreateHub(ctx, ns, broker.HubSpec{Name: hub, Partitions: parts}); err != nil {
			t.Fatal(err)
		}
	}
	return connString(t, n.b, ns, "", "RootManageSharedAccessKey")
}

// hubRule creates a rule on hub with rights and returns its connection string.
func (n *authzNode) hubRule(t *testing.T, ns, hub, rule string, rights ...string) string {
	t.Helper()
	if _, err := n.b.PutPolicy(context.Background(), ns, hub, rule, rights); err != nil {
		t.Fatal(err)
	}
	return connString(t, n.b, ns, hub, rule) + ";EntityPath=" + hub
}

// rawProduceOn sends one record to partition 0 of topic on the connection cl already holds
// to the node, without the client's retries (franz-go retries a refused SASL forever), and
// returns the partition's code or the request's error (the node closed the connection).
func rawProduceOn(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) (int16, error) {
	t.Helper()
	brokers := cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		t.Fatal("the client has not discovered the node")
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch.Build([]batch.Record{{Value: []byte("after")}},
		batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: time.Now().UnixMilli()})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := brokers[0].Request(ctx, req)
	if err != nil {
		return 0, err
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, nil
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinReq(group, member string, metadata []byte) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID = group, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", metadata
	req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	return req
}

// join joins group as a new member (following MEMBER_ID_REQUIRED) and returns the answer.
func join(ctx context.Context, t *testing.T, cl *kgo.Client, group string, metadata []byte) *kmsg.JoinGroupResponse {
	t.Helper()
	resp, err := joinReq(group, "", metadata).RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("JoinGroup %s: %v", group, err)
	}
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		if resp, err = joinReq(group, resp.MemberID, metadata).RequestWith(ctx, cl); err != nil {
			t.Fatalf("JoinGroup %s: %v", group, err)
		}
	}
	return resp
}

func describe(ctx context.Context, t *testing.T, cl *kgo.Client, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups %s: %v %+v", group, err, resp)
	}
	return resp.Groups[0]
}

func listGroups(ctx context.Context, t *testing.T, cl *kgo.Client) []string {
	t.Helper()
	resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	var out []string
	for _, g := range resp.Groups {
		out = append(out, g.Group)
	}
	return out
}

// TestAuditH3_SendOnlyCannotLeaveOthersGroup reproduces H3: a victim consumer group billing
// on orders (root credential); attackers scoped to payments, one with Send and one with
// Listen, try ListGroups, DescribeGroups, LeaveGroup of the victim's member and JoinGroup to
// take over orders. None of it reaches the group; the victim stays its only member.
func TestAuditH3_SendOnlyCannotLeaveOthersGroup(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := n.shop(t, "shop-eu1")
	victim := n.client(t, root)
	vj := join(ctx, t, victim, "billing", consumerMeta("orders"))
	if vj.ErrorCode != 0 || vj.LeaderID != vj.MemberID {
		t.Fatalf("victim's join: %v", kerr.ErrorForCode(vj.ErrorCode))
	}
	victimID := vj.MemberID

	sender := n.client(t, n.hubRule(t, "shop-eu1", "payments", "sender", "Send"))
	listener := n.client(t, n.hubRule(t, "shop-eu1", "payments", "listener", "Listen"))

	if gs := listGroups(ctx, t, sender); len(gs) != 0 {
		t.Errorf("Send-only ListGroups shows %v", gs)
	}
	if gs := listGroups(ctx, t, listener); len(gs) != 0 {
		t.Errorf("payments listener's ListGroups shows %v, a group of orders", gs)
	}
	if g := describe(ctx, t, sender, "billing"); g.ErrorCode != kerr.GroupAuthorizationFailed.Code || len(g.Members) != 0 {
		t.Errorf("Send-only DescribeGroups(billing): %v, %d members", kerr.ErrorForCode(g.ErrorCode), len(g.Members))
	}
	if g := describe(ctx, t, listener, "billing"); len(g.Members) != 0 || (g.State != "Dead" && g.ErrorCode == 0) {
		t.Errorf("payments listener's DescribeGroups(billing): state %s, %d members, %v", g.State, len(g.Members), kerr.ErrorForCode(g.ErrorCode))
	}

	for name, cl := range map[string]*kgo.Client{"sender": sender, "listener": listener} {
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group = "billing"
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = victimID
		leave.Members = []kmsg.LeaveGroupRequestMember{m}
		leave.MemberID = victimID // versions before 3
		lr, err := leave.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		code := lr.ErrorCode
		if code == 0 && len(lr.Members) == 1 {
			code = lr.Members[0].ErrorCode
		}
		if code != kerr.GroupAuthorizationFailed.Code && code != kerr.UnknownMemberID.Code {
			t.Errorf("%s's LeaveGroup of the victim: %v, want GROUP_AUTHORIZATION_FAILED or UNKNOWN_MEMBER_ID", name, kerr.ErrorForCode(code))
		}
		for _, topic := range []string{"orders", "payments"} {
			if r := join(ctx, t, cl, "billing", consumerMeta(topic)); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
				t.Errorf("%s joined billing subscribing to %s: %v", name, topic, kerr.ErrorForCode(r.ErrorCode))
			}
		}
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "billing", victimID, vj.Generation
		if r, err := hb.RequestWith(ctx, cl); err != nil || r.ErrorCode == 0 {
			t.Errorf("%s heartbeat for the victim: %v %v", name, err, r)
		}
	}

	g := describe(ctx, t, victim, "billing")
	if len(g.Members) != 1 || g.Members[0].MemberID != victimID {
		t.Fatalf("after the attacks billing is %s with %+v, want the victim alone", g.State, g.Members)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "billing", victimID, vj.Generation
	if r, err := hb.RequestWith(ctx, victim); err != nil || (r.ErrorCode != 0 && r.ErrorCode != kerr.RebalanceInProgress.Code) {
		t.Fatalf("victim's own heartbeat: %v %v", err, r)
	}
}

// TestAuditH3_ListenConsumerGroupWorks checks the legitimate use: a franz-go consumer group
// with a hub-scoped Listen credential consumes and commits on an existing group, sees its
// group, and its commits land as checkpoints.
func TestAuditH3_ListenConsumerGroupWorks(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := n.shop(t, "shop-eu2")
	if _, err := n.b.CreateConsumerGroup(ctx, "shop-eu2", "orders", "readers", ""); err != nil {
		t.Fatal(err)
	}
	p := n.client(t, root, kgo.DefaultProduceTopic("orders"))
	for i := range 10 {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cs := n.hubRule(t, "shop-eu2", "orders", "reader", "Listen")
	c := n.client(t, cs, kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	got := 0
	for got < 10 {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 10: %v", got, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	if err := c.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit with a Listen credential on an existing group: %v", err)
	}
	cps, err := n.b.Checkpoints("shop-eu2", "orders", "readers")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, cp := range cps {
		total += cp.Offset
	}
	if total != 10 {
		t.Errorf("checkpoints %+v add up to %d, want 10", cps, total)
	}
	if gs := listGroups(ctx, t, c); len(gs) != 1 || gs[0] != "readers" {
		t.Errorf("the reader lists %v, want its own group", gs)
	}
}

// TestAuditH5_NamespaceReuseClosesOldConnection reproduces H5's namespace-reuse attack: a
// connection of tenant-old1, the namespace deleted and created again (new keys) with hub
// payroll; the old connection must not produce to payroll nor see it.
func TestAuditH5_NamespaceReuseClosesOldConnection(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := n.shop(t, "tenant-old1")
	old := n.client(t, root)
	if err := old.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := n.b.DeleteNamespace(ctx, "tenant-old1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "tenant-old1"}); err != nil {
		t.Fatal(err)
	}
	if err := n.b.CreateHub(ctx, "tenant-old1", broker.HubSpec{Name: "payroll", Partitions: 1}); err != nil {
		t.Fatal(err)
	}

	pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
	defer pcancel()
	if code, err := rawProduceOn(pctx, t, old, "payroll"); err == nil && code == 0 {
		t.Fatal("the old connection produced to the new tenant's payroll")
	}
	md := kmsg.NewPtrMetadataRequest()
	if resp, err := md.RequestWith(pctx, old); err == nil {
		for _, topic := range resp.Topics {
			if topic.Topic != nil && *topic.Topic == "payroll" {
				t.Fatal("the old connection's Metadata shows the new tenant's payroll")
			}
		}
	}
	part, err := n.b.Partition("tenant-old1", "payroll", 0)
	if err != nil {
		t.Fatal(err)
	}
	if end := part.EndOffset(); end != 0 {
		t.Fatalf("payroll holds %d events after the old connection's attempt", end)
	}
	// The new tenant's own credential works.
	fresh := n.client(t, connString(t, n.b, "tenant-old1", "", "RootManageSharedAccessKey"))
	if err := fresh.ProduceSync(ctx, &kgo.Record{Topic: "payroll", Value: []byte("mine")}).FirstErr(); err != nil {
		t.Fatalf("the new tenant's produce: %v", err)
	}
}

// TestAuditH5_ConnectionEndsWithItsGrant checks that an open connection stops working when
// its SAS token expires, its rule is deleted, its key regenerated, its rights reduced or the
// IP filter refuses it, while a connection of another credential keeps working.
func TestAuditH5_ConnectionEndsWithItsGrant(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  bool
		change func(ctx context.Context, n *authzNode) error
	}{
		{"token expired", true, func(ctx context.Context, n *authzNode) error {
			n.clock.Add(int64(2 * time.Hour))
			return nil
		}},
		{"rule deleted", false, func(ctx context.Context, n *authzNode) error {
			return n.b.DeletePolicy(ctx, "shop-eu2", "orders", "sender")
		}},
		{"key regenerated", false, func(ctx context.Context, n *authzNode) error {
			_, err := n.b.RegenerateKey(ctx, "shop-eu2", "orders", "sender", "PrimaryKey")
			return err
		}},
		{"rights changed", false, func(ctx context.Context, n *authzNode) error {
			_, err := n.b.PutPolicy(ctx, "shop-eu2", "orders", "sender", []string{"Listen"})
			return err
		}},
		{"ip filter", false, func(ctx context.Context, n *authzNode) error {
			_, err := n.b.UpdateNamespace(ctx, broker.NamespaceSpec{Name: "shop-eu2", DefaultAction: "Deny", IPRules: []string{"10.9.0.0/16"}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startAuthzNode(t, broker.Quotas{})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			root := n.shop(t, "shop-eu2")
			cs := n.hubRule(t, "shop-eu2", "orders", "sender", "Send")
			if tc.token {
				pol, _ := n.b.Policy("shop-eu2", "orders", "sender")
				tok := auth.NewSASToken("sb://shop-eu2/orders", "sender", pol.PrimaryKey, time.Now().Add(time.Hour))
				cs = auth.ConnectionString{Endpoint: "sb://shop-eu2/", SharedAccessSignature: tok, EntityPath: "orders"}.String()
			}
			cl := n.client(t, cs, kgo.DefaultProduceTopic("orders"))
			other := n.client(t, root, kgo.DefaultProduceTopic("payments"))
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("ok")}).FirstErr(); err != nil {
				t.Fatalf("produce before the change: %v", err)
			}
			if err := tc.change(ctx, n); err != nil {
				t.Fatal(err)
			}
			pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
			defer pcancel()
			if code, err := rawProduceOn(pctx, t, cl, "orders"); err == nil && code == 0 {
				t.Fatal("the connection produced after its grant changed")
			}
			if tc.name != "ip filter" {
				if err := other.ProduceSync(ctx, &kgo.Record{Value: []byte("other-ns")}).FirstErr(); err != nil {
					t.Fatalf("another credential's connection: %v", err)
				}
			}
			var events int64
			for p := range int32(2) {
				part, err := n.b.Partition("shop-eu2", "orders", p)
				if err != nil {
					t.Fatal(err)
				}
				events += part.EndOffset()
			}
			if events != 1 {
				t.Fatalf("orders holds %d events, want the 1 produced before the change", events)
			}
		})
	}
}

// TestAuditM6_ListenOnlyCannotCreateGroups reproduces M6: a hub-scoped Listen credential
// sends OffsetCommit v2 for new group names; none is created. A Manage credential still
// creates groups by committing, up to the groups-per-hub quota, then gets POLICY_VIOLATION.
func TestAuditM6_ListenOnlyCannotCreateGroups(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{GroupsPerHub: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := n.shop(t, "shop-eu1")
	listener := n.client(t, n.hubRule(t, "shop-eu1", "payments", "listener", "Listen"))
	admin := n.client(t, root)

	commit := func(cl *kgo.Client, group string) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "payments"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 0
		rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{rp}
		req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	for i := range 50 {
		if code := commit(listener, fmt.Sprintf("flood-%05d", i)); code != kerr.GroupAuthorizationFailed.Code {
			t.Fatalf("listener's commit %d for a new group: %v, want GROUP_AUTHORIZATION_FAILED", i, kerr.ErrorForCode(code))
		}
	}
	if groups, _ := n.b.ConsumerGroups("shop-eu1", "payments"); len(groups) != 1 {
		t.Fatalf("payments has %d groups after the flood, want $Default alone", len(groups))
	}
	if code := commit(listener, "$Default"); code != 0 {
		t.Fatalf("listener's commit on the existing $Default: %v", kerr.ErrorForCode(code))
	}
	for i := range 3 { // $Default + 3 = the quota of 4
		if code := commit(admin, fmt.Sprintf("team-%d", i)); code != 0 {
			t.Fatalf("root's commit creating group team-%d: %v", i, kerr.ErrorForCode(code))
		}
	}
	if code := commit(admin, "team-3"); code != kerr.PolicyViolation.Code {
		t.Fatalf("root's commit past the quota: %v, want POLICY_VIOLATION", kerr.ErrorForCode(code))
	}
	if code := commit(admin, "team-0"); code != 0 {
		t.Fatalf("root's commit on an existing group at the quota: %v", kerr.ErrorForCode(code))
	}
}

// TestAuditM1c_JoinGroupMetadataBounded reproduces M1(c) at a small scale: a JoinGroup with
// more metadata than the cap is refused and leaves nothing behind; members that disconnect
// without leaving fill at most their namespace's budget, after which joins there are refused
// while another namespace still joins; and a group holds at most its member cap.
func TestAuditM1c_JoinGroupMetadataBounded(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{MemberMetadataBytes: 16 << 10, GroupBytesPerNamespace: 100 << 10, MembersPerGroup: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := n.shop(t, "shop-eu2")
	other := n.shop(t, "other-ns")
	cl := n.client(t, root)

	big := append(consumerMeta("orders"), bytes.Repeat([]byte{'x'}, 32<<10)...)
	if r := join(ctx, t, cl, "huge", big); r.ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("JoinGroup with 32 KiB metadata (cap 16 KiB): %v, want POLICY_VIOLATION", kerr.ErrorForCode(r.ErrorCode))
	}
	if g := describe(ctx, t, cl, "huge"); g.State != "Dead" && g.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("the refused join left group huge %s", g.State)
	}

	md := append(consumerMeta("orders"), bytes.Repeat([]byte{'x'}, 15<<10)...)
	refused := -1
	for i := range 20 {
		if r := join(ctx, t, cl, fmt.Sprintf("g-%d", i), md); r.ErrorCode != 0 {
			if r.ErrorCode != kerr.PolicyViolation.Code {
				t.Fatalf("join %d: %v, want POLICY_VIOLATION once the budget is full", i, kerr.ErrorForCode(r.ErrorCode))
			}
			refused = i
			break
		}
	}
	if refused < 3 || refused > 7 {
		t.Fatalf("the 100 KiB budget refused join %d of 15 KiB members; want it to fit about 6", refused)
	}
	if r := join(ctx, t, n.client(t, other), "g-0", md); r.ErrorCode != 0 {
		t.Fatalf("another namespace's join while shop's budget is full: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// Members per group: two member ids handed out, the third is refused.
	for i := range 3 {
		resp, err := joinReq("crowd", "", consumerMeta("orders")).RequestWith(ctx, n.client(t, other))
		if err != nil {
			t.Fatal(err)
		}
		want := kerr.MemberIDRequired.Code
		if i == 2 {
			want = kerr.GroupMaxSizeReached.Code
		}
		if resp.ErrorCode != want {
			t.Fatalf("join %d of crowd: %v, want %v", i, kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(want))
		}
	}
}

// TestQuotaHubsPerNamespaceOverKafka checks that CreateTopics and CreatePartitions meet the
// same quotas as HTTP: POLICY_VIOLATION with a message naming the limit.
func TestQuotaHubsPerNamespaceOverKafka(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{HubsPerNamespace: 3, PartitionsPerNode: 8})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(n.client(t, n.shop(t, "shop-eu3"))) // orders (2) and payments (1)
	// kadm returns a topic's error as err as well.
	resp, _ := adm.CreateTopic(ctx, 6, -1, nil, "audit")
	if !errorsIs(resp.Err, kerr.PolicyViolation) || !strings.Contains(resp.ErrMessage, "max-partitions-per-node") {
		t.Fatalf("CreateTopics past the node's partitions: %v %q", resp.Err, resp.ErrMessage)
	}
	if resp, err := adm.CreateTopic(ctx, 1, -1, nil, "audit"); err != nil || resp.Err != nil {
		t.Fatalf("the third hub: %v %v", err, resp.Err)
	}
	resp, _ = adm.CreateTopic(ctx, 1, -1, nil, "fourth")
	if !errorsIs(resp.Err, kerr.PolicyViolation) || !strings.Contains(resp.ErrMessage, "max-hubs-per-namespace") {
		t.Fatalf("CreateTopics past the namespace's hubs: %v %q", resp.Err, resp.ErrMessage)
	}
	grown, err := adm.CreatePartitions(ctx, 10, "orders")
	if err != nil || !errorsIs(grown["orders"].Err, kerr.PolicyViolation) {
		t.Fatalf("CreatePartitions past the node's partitions: %v %+v", err, grown)
	}
}

// TestInitProducerIDNeedsSend checks that a Listen-only credential gets no producer ids.
func TestInitProducerIDNeedsSend(t *testing.T) {
	n := startAuthzNode(t, broker.Quotas{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := n.shop(t, "shop-eu4")
	for cs, want := range map[string]int16{
		n.hubRule(t, "shop-eu4", "orders", "listener", "Listen"): kerr.ClusterAuthorizationFailed.Code,
		n.hubRule(t, "shop-eu4", "orders", "sender", "Send"):     0,
		root: 0,
	} {
		resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, n.client(t, cs))
		if err != nil {
			t.Fatalf("InitProducerID: %v", err)
		}
		if resp.ErrorCode != want {
			t.Errorf("InitProducerID: %v, want %v", kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(want))
		}
	}
}
