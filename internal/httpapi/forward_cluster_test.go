package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
	"github.com/tandem-streaming/tandem/internal/httpapi"
)

type apiAnswer struct {
	status int
	body   string
}

func call(t *testing.T, method, url, body string, header ...string) apiAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return apiAnswer{resp.StatusCode, string(data)}
}

type sent struct {
	Events []struct {
		PartitionID int32 `json:"partitionId"`
		Offset      int64 `json:"offset"`
	} `json:"events"`
}

func decodeSent(t *testing.T, a apiAnswer) sent {
	t.Helper()
	if a.status != http.StatusCreated {
		t.Fatalf("send: %d %s", a.status, a.body)
	}
	var s sent
	if err := json.Unmarshal([]byte(a.body), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Sends and receives that reach a node which does not lead the partition are forwarded to
// the leader's HTTP API, once; partition-less sends stay on partitions this node leads.
func TestClusterHTTPForwardsToPartitionLeader(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{HTTP: true})
	const hub, parts = "orders", 3
	c.CreateHub(hub, parts)
	c.RecordEndpoints()
	leader := c.PartitionLeader(hub, 0)
	var follower *clustertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	base := func(n *clustertest.Node) string {
		return fmt.Sprintf("%s/namespaces/%s/eventhubs/%s", n.HTTPURL, broker.DevNamespace, hub)
	}
	t.Logf("partition 0 is led by node %d; sending through node %d", leader.ID, follower.ID)

	// A send and a receive on partition 0 through the follower, with a browser's
	// same-origin header (the leader must not see the follower's origin as foreign).
	s := decodeSent(t, call(t, "POST", base(follower)+"/partitions/0/messages", `[{"body":"a"},{"body":"b"}]`, "Origin", follower.HTTPURL))
	if len(s.Events) != 2 || s.Events[0].PartitionID != 0 || s.Events[1].Offset != s.Events[0].Offset+1 {
		t.Fatalf("send through node %d: %+v", follower.ID, s)
	}
	a := call(t, "GET", base(follower)+"/partitions/0/messages?from=start&max=10", "")
	if a.status != http.StatusOK || !strings.Contains(a.body, `"body":"a"`) || !strings.Contains(a.body, `"body":"b"`) {
		t.Fatalf("receive through node %d: %d %s", follower.ID, a.status, a.body)
	}

	// A long-poll receive through the follower is answered when an event arrives.
	polled := make(chan apiAnswer, 1)
	go func() {
		resp, err := http.Get(base(follower) + "/partitions/0/messages?from=end&wait=60s")
		if err != nil {
			polled <- apiAnswer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		polled <- apiAnswer{resp.StatusCode, string(data)}
	}()
	clustertest.Eventually(t, "the long-poll to be answered", func() bool {
		select {
		case a = <-polled:
			return true
		default:
		}
		decodeSent(t, call(t, "POST", base(leader)+"/partitions/0/messages", `{"body":"wake"}`))
		return false
	})
	if a.status != http.StatusOK || !strings.Contains(a.body, `"body":"wake"`) {
		t.Fatalf("long-poll receive through node %d: %d %s", follower.ID, a.status, a.body)
	}

	// What a forward costs (logged, not checked: the machine is shared).
	timeSends := func(n *clustertest.Node) time.Duration {
		start := time.Now()
		for range 100 {
			decodeSent(t, call(t, "POST", base(n)+"/partitions/0/messages", `{"body":"timing"}`))
		}
		return time.Since(start) / 100
	}
	direct, forwarded := timeSends(leader), timeSends(follower)
	t.Logf("a one-event send to partition 0: %v on its leader, %v through node %d", direct, forwarded, follower.ID)

	// A request already forwarded once is not forwarded again: the non-leader answers 421.
	a = call(t, "POST", base(follower)+"/partitions/0/messages", `{"body":"c"}`, httpapi.ForwardedHeader, "9")
	if a.status != http.StatusMisdirectedRequest || !strings.Contains(a.body, `"NotLeader"`) {
		t.Fatalf("a forwarded send on a non-leader: %d %s, want 421 NotLeader", a.status, a.body)
	}
	a = call(t, "GET", base(follower)+"/partitions/0/messages?from=start", "", httpapi.ForwardedHeader, "9")
	if a.status != http.StatusMisdirectedRequest {
		t.Fatalf("a forwarded receive on a non-leader: %d %s, want 421", a.status, a.body)
	}

	// Partition-less sends stay on the partitions the receiving node leads (when it leads
	// any), and keyed sends go to the key's partition wherever its leader is.
	for _, n := range c.Nodes {
		led := map[int32]bool{}
		h, err := n.Broker.Hub(broker.DevNamespace, hub)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range n.Broker.LedPartitions(h) {
			led[p] = true
		}
		for i := range 4 {
			s := decodeSent(t, call(t, "POST", base(n)+"/messages", fmt.Sprintf(`[{"body":"rr-%d"},{"body":"rr-%d"}]`, i, i)))
			if p := s.Events[0].PartitionID; len(led) > 0 && !led[p] {
				t.Errorf("a partition-less send to node %d went to partition %d; it leads %v", n.ID, p, led)
			}
		}
		for _, key := range []string{"k1", "k2", "k3", "k4"} {
			s := decodeSent(t, call(t, "POST", base(n)+"/messages", fmt.Sprintf(`[{"body":"x","partitionKey":%q},{"body":"y","partitionKey":%q}]`, key, key)))
			if want := broker.KeyPartition([]byte(key), parts); s.Events[0].PartitionID != want || s.Events[1].PartitionID != want {
				t.Errorf("keyed send to node %d: %+v, want partition %d", n.ID, s, want)
			}
		}
	}

	// IP rules apply to the client, not to the forwarding node: the follower vouches for the
	// client's address, and the leader checks its proof.
	setRules := func(action string, cidrs ...string) {
		clustertest.Eventually(t, "the namespace's network rules updated", func() bool {
			l := c.MetaLeader()
			return l != nil && func() error {
				_, err := l.Broker.UpdateNamespace(context.Background(), broker.NamespaceSpec{Name: broker.DevNamespace,
					Tier: "standard", DefaultAction: action, IPRules: cidrs})
				return err
			}() == nil
		})
	}
	setRules("Deny", "127.0.0.5/32")
	clustertest.Eventually(t, "every node to refuse 127.0.0.1", func() bool {
		for _, n := range c.Nodes {
			if call(t, "GET", base(n)+"/partitions/0/messages?from=start", "").status != http.StatusForbidden {
				return false
			}
		}
		return true
	})
	from5 := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).DialContext}}
	defer from5.CloseIdleConnections()
	req, _ := http.NewRequest("POST", base(follower)+"/partitions/0/messages", strings.NewReader(`{"body":"from-5"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := from5.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a send from the allowed 127.0.0.5 forwarded by node %d: %d %s", follower.ID, resp.StatusCode, data)
	}
	a = call(t, "GET", base(leader)+"/partitions/0/messages?from=start", "",
		"Tandem-Forwarded-For", "127.0.0.5:1", "Tandem-Forward-Proof", fmt.Sprintf("%d:%d:forged", follower.ID, time.Now().Unix()))
	if a.status != http.StatusForbidden {
		t.Fatalf("a forged client address: %d %s, want 403", a.status, a.body)
	}
	setRules("Allow")
	clustertest.Eventually(t, "every node to accept 127.0.0.1 again", func() bool {
		for _, n := range c.Nodes {
			if call(t, "GET", base(n)+"/partitions/0/messages?from=start", "").status != http.StatusOK {
				return false
			}
		}
		return true
	})

	// The leader's HTTP API is down: a clear 503.
	leader.StopHTTP()
	a = call(t, "POST", base(follower)+"/partitions/0/messages", `{"body":"d"}`)
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "could not be reached") {
		t.Fatalf("send while the leader's HTTP API is down: %d %s, want 503", a.status, a.body)
	}
}

// A forward proof holds only for the fields it was made for, from another member, near its
// time.
func TestClusterForwardProof(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	from, to := c.Nodes[0].Broker, c.Nodes[1].Broker
	now := time.Now()
	const addr, method, uri = "192.0.2.7:5000", "POST", "/namespaces/default/eventhubs/orders/partitions/0/messages"
	proof := from.ForwardProof(addr, method, uri, now)
	forged := proof[:len(proof)-1] + "A"
	if forged == proof {
		forged = proof[:len(proof)-1] + "B"
	}
	for _, tc := range []struct {
		name                  string
		by                    *broker.Broker
		proof, addr, meth, ur string
		at                    time.Time
		want                  bool
	}{
		{"valid", to, proof, addr, method, uri, now, true},
		{"a minute later", to, proof, addr, method, uri, now.Add(time.Minute), true},
		{"too late", to, proof, addr, method, uri, now.Add(3 * time.Minute), false},
		{"too early", to, proof, addr, method, uri, now.Add(-3 * time.Minute), false},
		{"on the node that made it", from, proof, addr, method, uri, now, false},
		{"another address", to, proof, "192.0.2.8:5000", method, uri, now, false},
		{"another method", to, proof, addr, "GET", uri, now, false},
		{"another URI", to, proof, addr, method, uri + "?x=1", now, false},
		{"forged mac", to, forged, addr, method, uri, now, false},
		{"another node id", to, "3" + proof[1:], addr, method, uri, now, false},
		{"malformed", to, "garbage", addr, method, uri, now, false},
		{"empty", to, "", addr, method, uri, now, false},
	} {
		if got := tc.by.CheckForwardProof(tc.proof, tc.addr, tc.meth, tc.ur, tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
