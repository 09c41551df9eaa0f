package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// Fetch and ListOffsets compare the client's CurrentLeaderEpoch with the leader's (KIP-320):
// an older one is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH (another node leads
// now), and only the current one (or none, -1) is served. A leader that lost its partition
// without knowing it yet thus never answers OFFSET_OUT_OF_RANGE to a consumer that read
// further at the new leader.
func TestClusterFetchChecksLeaderEpoch(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateHub("epochs", 1)
	var leader *clustertest.Node
	clustertest.Eventually(t, "a leader of partition 0", func() bool { leader = c.PartitionLeader("epochs", 0); return leader != nil })
	h, err := leader.Broker.Hub(broker.DevNamespace, "epochs")
	if err != nil {
		t.Fatal(err)
	}
	l, err := leader.Broker.Leadership(h, 0, int32(leader.ID))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(leader.KafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kb := cl.SeedBrokers()[0]
	fetchCode := func(epoch int32) int16 {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "epochs"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 0, 1<<20, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, kb)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	listCode := func(epoch int32) int16 {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "epochs"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, kb)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	cases := []struct {
		epoch int32
		want  int16
	}{{-1, 0}, {l.LeaderEpoch, 0}, {l.LeaderEpoch + 1, kerr.UnknownLeaderEpoch.Code}}
	if l.LeaderEpoch > 0 {
		cases = append(cases, struct {
			epoch int32
			want  int16
		}{l.LeaderEpoch - 1, kerr.FencedLeaderEpoch.Code})
	}
	for _, tc := range cases {
		if got := fetchCode(tc.epoch); got != tc.want {
			t.Errorf("Fetch with CurrentLeaderEpoch %d (leader at %d): %v, want %v", tc.epoch, l.LeaderEpoch, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
		if got := listCode(tc.epoch); got != tc.want {
			t.Errorf("ListOffsets with CurrentLeaderEpoch %d (leader at %d): %v, want %v", tc.epoch, l.LeaderEpoch, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}
	// Past the end, the confirmed leader still answers OFFSET_OUT_OF_RANGE (after a quorum
	// check): consumers that ask for offsets that never existed are reset as in Kafka.
	req := kmsg.NewPtrFetchRequest()
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "epochs"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, 1000, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, kb)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.OffsetOutOfRange.Code {
		t.Errorf("Fetch past the end on the leader: %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(got))
	}
}
