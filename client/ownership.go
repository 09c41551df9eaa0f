package client

import (
	"context"
	"net/http"
	"time"
)

// Ownership says which event processor instance owns a partition for a consumer group: the
// load balancing state of the Azure SDKs' event processors, kept by Tandem (see the nested
// module client/azeventhubs, a checkpoint store for the Go SDK's Processor built on it).
type Ownership struct {
	PartitionID      int32     `json:"partitionId"`
	OwnerID          string    `json:"ownerId"` // "" once its owner relinquished it
	ETag             string    `json:"etag"`
	LastModifiedTime time.Time `json:"lastModifiedTime"`
}

// OwnershipClaim asks for one partition. It wins only while the partition's ownership still
// has ETag, or, with ETag "", while nobody has ever claimed the partition.
type OwnershipClaim struct {
	PartitionID int32  `json:"partitionId"`
	OwnerID     string `json:"ownerId"`
	ETag        string `json:"etag,omitempty"`
}

// ListOwnership returns the partition ownership of consumer group group of ns/hub, sorted by
// partition.
func (c *Client) ListOwnership(ctx context.Context, ns, hub, group string) ([]Ownership, error) {
	var out list[Ownership]
	if err := c.do(ctx, http.MethodGet, groupPath(ns, hub, group)+"/ownership", nil, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// ClaimOwnership claims partitions of ns/hub for consumer group group in one change and
// returns the claims that won, with their new ETags and times. A claim whose ETag no longer
// matches (another instance claimed the partition first) is left out; that is not an error.
func (c *Client) ClaimOwnership(ctx context.Context, ns, hub, group string, claims []OwnershipClaim) ([]Ownership, error) {
	in := struct {
		Claims []OwnershipClaim `json:"claims"`
	}{claims}
	var out list[Ownership]
	if err := c.do(ctx, http.MethodPost, groupPath(ns, hub, group)+"/ownership", in, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}
