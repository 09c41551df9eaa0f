// Package tandemcheckpoints is a checkpoint store for the Azure Event Hubs Go SDK's Processor
// (github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2) kept by Tandem itself: the
// processors' partition ownership and checkpoints live in Tandem's consumer-group metadata,
// so a Processor needs no Azure Blob storage (nor Azurite beside the emulator).
//
//	tc, _ := client.New("http://127.0.0.1:8080", client.WithConnectionString(cs))
//	store, _ := tandemcheckpoints.NewCheckpointStore(tc, "default")
//	processor, _ := azeventhubs.NewProcessor(consumerClient, store, nil)
//
// It lives in its own module (github.com/tandem-streaming/tandem/client/azeventhubs) so that
// Tandem's main module does not depend on the Azure SDK.
//
// Ownership claims are compare-and-set by ETag in Tandem's metadata, with the semantics of the
// SDK's blob store: a claim with an ETag wins only while the ownership still has that ETag, a
// claim without one only while nobody has ever claimed the partition, and a claim that loses
// is left out of ClaimOwnership's answer rather than failing it.
//
// Checkpoints are Tandem's consumer-group checkpoints, which Kafka consumers and the HTTP API
// share: Tandem stores the offset of the NEXT event to read, the SDK the last event processed,
// so SDK sequence number s is Tandem offset s+1 (an event's sequence number is its Tandem
// offset, and its SDK offset is the same number as a decimal string). The SDK's offset
// string is kept in the checkpoint's metadata so that it reads back exactly; a checkpoint
// written by a Kafka consumer or the HTTP API reads as sequence number offset-1 with that
// number as its offset string.
package tandemcheckpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
)

// CheckpointStore is an azeventhubs.CheckpointStore kept in one Tandem namespace. The
// FullyQualifiedNamespace of the SDK's calls (the host the SDK connects to) is not used to
// find the data, only echoed back: a store serves the namespace it was made for. It is safe
// for concurrent use.
type CheckpointStore struct {
	c  *client.Client
	ns string
}

var _ azeventhubs.CheckpointStore = (*CheckpointStore)(nil)

// NewCheckpointStore returns a checkpoint store in Tandem namespace namespace, reached with
// c. c's credentials need the Listen right on the namespace or the event hub (as the SDK's
// consumers do).
func NewCheckpointStore(c *client.Client, namespace string) (*CheckpointStore, error) {
	if c == nil {
		return nil, fmt.Errorf("tandemcheckpoints: the Tandem client is nil; make one with client.New")
	}
	if namespace == "" {
		return nil, fmt.Errorf("tandemcheckpoints: the namespace is empty; name the Tandem namespace of the event hub (\"default\" in --dev)")
	}
	return &CheckpointStore{c: c, ns: namespace}, nil
}

// ClaimOwnership claims the partitions of partitionOwnership and returns those it got, with
// their new ETags and modification times. A claim whose ETag no longer matches (another
// processor claimed the partition first) is left out; that is not an error.
func (s *CheckpointStore) ClaimOwnership(ctx context.Context, partitionOwnership []azeventhubs.Ownership, _ *azeventhubs.ClaimOwnershipOptions) ([]azeventhubs.Ownership, error) {
	type target struct{ hub, group string }
	var order []target
	byTarget := map[target][]int{} // indexes into partitionOwnership
	for i, o := range partitionOwnership {
		if err := checkNames(o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup); err != nil {
			return nil, err
		}
		if _, err := partition(o.PartitionID); err != nil {
			return nil, err
		}
		t := target{o.EventHubName, groupName(o.ConsumerGroup)}
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], i)
	}
	var out []azeventhubs.Ownership
	for _, t := range order {
		claims := make([]client.OwnershipClaim, 0, len(byTarget[t]))
		for _, i := range byTarget[t] {
			o := partitionOwnership[i]
			p, _ := partition(o.PartitionID)
			cl := client.OwnershipClaim{PartitionID: p, OwnerID: o.OwnerID}
			if o.ETag != nil {
				cl.ETag = string(*o.ETag)
			}
			claims = append(claims, cl)
		}
		won, err := s.c.ClaimOwnership(ctx, s.ns, t.hub, t.group, claims)
		if err != nil {
			return nil, fmt.Errorf("tandemcheckpoints: claiming partitions of %s/%s for consumer group %s: %w", s.ns, t.hub, t.group, err)
		}
		got := make(map[int32]client.Ownership, len(won))
		for _, w := range won {
			got[w.PartitionID] = w
		}
		for _, i := range byTarget[t] {
			o := partitionOwnership[i]
			p, _ := partition(o.PartitionID)
			w, ok := got[p]
			if !ok {
				continue
			}
			etag := azcore.ETag(w.ETag)
			o.ETag, o.LastModifiedTime = &etag, w.LastModifiedTime
			out = append(out, o)
		}
	}
	return out, nil
}

// ListOwnership lists the partition ownership of a consumer group of an event hub.
func (s *CheckpointStore) ListOwnership(ctx context.Context, fullyQualifiedNamespace string, eventHubName string, consumerGroup string, _ *azeventhubs.ListOwnershipOptions) ([]azeventhubs.Ownership, error) {
	if err := checkNames(fullyQualifiedNamespace, eventHubName, consumerGroup); err != nil {
		return nil, err
	}
	own, err := s.c.ListOwnership(ctx, s.ns, eventHubName, groupName(consumerGroup))
	if err != nil {
		return nil, fmt.Errorf("tandemcheckpoints: listing the ownership of %s/%s for consumer group %s: %w", s.ns, eventHubName, consumerGroup, err)
	}
	out := make([]azeventhubs.Ownership, 0, len(own))
	for _, o := range own {
		etag := azcore.ETag(o.ETag)
		out = append(out, azeventhubs.Ownership{
			ConsumerGroup: consumerGroup, EventHubName: eventHubName, FullyQualifiedNamespace: fullyQualifiedNamespace,
			PartitionID: strconv.Itoa(int(o.PartitionID)), OwnerID: o.OwnerID, LastModifiedTime: o.LastModifiedTime, ETag: &etag,
		})
	}
	return out, nil
}

// ListCheckpoints lists the checkpoints of a consumer group of an event hub.
func (s *CheckpointStore) ListCheckpoints(ctx context.Context, fullyQualifiedNamespace string, eventHubName string, consumerGroup string, _ *azeventhubs.ListCheckpointsOptions) ([]azeventhubs.Checkpoint, error) {
	if err := checkNames(fullyQualifiedNamespace, eventHubName, consumerGroup); err != nil {
		return nil, err
	}
	cps, err := s.c.GetCheckpoints(ctx, s.ns, eventHubName, groupName(consumerGroup))
	if err != nil {
		return nil, fmt.Errorf("tandemcheckpoints: listing the checkpoints of %s/%s for consumer group %s: %w", s.ns, eventHubName, consumerGroup, err)
	}
	out := make([]azeventhubs.Checkpoint, 0, len(cps))
	for _, cp := range cps {
		seq, offset := fromTandem(cp.Offset, cp.Metadata)
		out = append(out, azeventhubs.Checkpoint{
			ConsumerGroup: consumerGroup, EventHubName: eventHubName, FullyQualifiedNamespace: fullyQualifiedNamespace,
			PartitionID: strconv.Itoa(int(cp.PartitionID)), Offset: offset, SequenceNumber: &seq,
		})
	}
	return out, nil
}

// SetCheckpoint records the last event processed in a partition. Like the SDK's blob store
// it does not check ownership: the Processor only checkpoints partitions it owns.
func (s *CheckpointStore) SetCheckpoint(ctx context.Context, checkpoint azeventhubs.Checkpoint, _ *azeventhubs.SetCheckpointOptions) error {
	cp := checkpoint
	if err := checkNames(cp.FullyQualifiedNamespace, cp.EventHubName, cp.ConsumerGroup); err != nil {
		return err
	}
	p, err := partition(cp.PartitionID)
	if err != nil {
		return err
	}
	next, meta, err := toTandem(cp.SequenceNumber, cp.Offset)
	if err != nil {
		return fmt.Errorf("tandemcheckpoints: checkpoint of partition %s: %w", cp.PartitionID, err)
	}
	if _, err := s.c.SetCheckpoint(ctx, s.ns, cp.EventHubName, groupName(cp.ConsumerGroup), p, next, meta); err != nil {
		return fmt.Errorf("tandemcheckpoints: checkpoint of partition %s of %s/%s for consumer group %s: %w",
			cp.PartitionID, s.ns, cp.EventHubName, cp.ConsumerGroup, err)
	}
	return nil
}

// metaSDK marks a checkpoint's metadata as written by this store.
const metaSDK = "azeventhubs"

// checkpointMeta is the metadata of a checkpoint this store wrote: the SDK's offset string,
// absent when the SDK gave none.
type checkpointMeta struct {
	SDK    string  `json:"sdk"`
	Offset *string `json:"offset,omitempty"`
}

// toTandem turns the SDK's last processed event into Tandem's next offset and the metadata
// that keeps the SDK's offset string.
func toTandem(seq *int64, offset *string) (int64, string, error) {
	var last int64
	switch {
	case seq != nil:
		last = *seq
	case offset != nil:
		n, err := strconv.ParseInt(*offset, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("it has no sequence number and its offset %q is not a number; Tandem's offsets are sequence numbers: set SequenceNumber", *offset)
		}
		last = n
	default:
		return 0, "", fmt.Errorf("it has neither a sequence number nor an offset; set SequenceNumber to the last event processed")
	}
	if last < -1 {
		return 0, "", fmt.Errorf("sequence number %d is before the first event (0; -1 means none processed yet)", last)
	}
	m, err := json.Marshal(checkpointMeta{SDK: metaSDK, Offset: offset})
	if err != nil {
		return 0, "", err
	}
	return last + 1, string(m), nil
}

// fromTandem turns Tandem's next offset into the SDK's last processed event. The offset
// string is the one this store kept, or, for a checkpoint another client wrote, the
// sequence number as a decimal string (the offset Tandem's AMQP endpoint gives every event).
func fromTandem(next int64, metadata string) (int64, *string) {
	last := next - 1
	var m checkpointMeta
	if err := json.Unmarshal([]byte(metadata), &m); err == nil && m.SDK == metaSDK {
		return last, m.Offset
	}
	o := strconv.FormatInt(last, 10)
	return last, &o
}

// groupName is a consumer group's name in Tandem: the SDKs spell the default group $Default
// or $default; Tandem's is $Default.
func groupName(g string) string {
	if strings.EqualFold(g, "$Default") {
		return "$Default"
	}
	return g
}

func checkNames(fqns, hub, group string) error {
	if fqns == "" || hub == "" || group == "" {
		return fmt.Errorf("tandemcheckpoints: the fully qualified namespace (%q), event hub (%q) and consumer group (%q) must all be set", fqns, hub, group)
	}
	return nil
}

// partition parses an SDK partition id: Tandem's partitions are numbered from 0.
func partition(id string) (int32, error) {
	p, err := strconv.ParseInt(id, 10, 32)
	if err != nil || p < 0 {
		return 0, fmt.Errorf("tandemcheckpoints: partition id %q is not a partition number (0, 1, …)", id)
	}
	return int32(p), nil
}
