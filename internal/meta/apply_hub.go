package meta

import (
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Limits on consumer groups and checkpoints.
const (
	MaxUserMetadata     = 1024 // bytes of a consumer group's user metadata (Azure: 1024)
	MaxOffsetMetadata   = 4096 // bytes of a checkpoint's metadata (Kafka's offset.metadata.max.bytes)
	MaxOffsetsPerCommit = MaxPartitionCount
)

func (c CreateHub) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	if err := validEntityName("event hub", c.Hub); err != nil {
		return err
	}
	if _, ok := n.Hubs[c.Hub]; ok {
		return errcode.New(errcode.AlreadyExists,
			"event hub %q already exists in namespace %q; pick another name or change it with 'tandem hub update %s/%s'",
			c.Hub, c.Namespace, c.Namespace, c.Hub)
	}
	h := c.hub()
	if err := validPartitionCount(h.PartitionCount); err != nil {
		return err
	}
	if err := validRetention(h.RetentionTime); err != nil {
		return err
	}
	if err := validRetentionBytes(h.RetentionBytes); err != nil {
		return err
	}
	if err := validMaxEventBytes(h.MaxEventBytes); err != nil {
		return err
	}
	return validHubStatus(h.Status)
}

// hub builds the hub the command creates, with defaults filled in.
func (c CreateHub) hub() *Hub {
	h := &Hub{
		Name:           c.Hub,
		PartitionCount: c.PartitionCount,
		RetentionTime:  c.RetentionTime,
		RetentionBytes: c.RetentionBytes,
		MaxEventBytes:  c.MaxEventBytes,
		Status:         c.Status,
		Groups:         map[string]*ConsumerGroup{DefaultGroup: {Name: DefaultGroup, CreatedAt: c.Time}},
		Policies:       map[string]*Policy{},
		CreatedAt:      c.Time,
		UpdatedAt:      c.Time,
	}
	if h.PartitionCount == 0 {
		h.PartitionCount = DefaultPartitionCount
	}
	if h.RetentionTime == 0 {
		h.RetentionTime = DefaultRetention
	}
	if h.MaxEventBytes == 0 {
		h.MaxEventBytes = DefaultMaxEventBytes
	}
	if h.Status == "" {
		h.Status = Active
	}
	return h
}

func (c CreateHub) apply(s *State) {
	h := c.hub()
	n := s.namespaces[c.Namespace]
	n.Hubs[c.Hub] = h
	n.addFolded(c.Hub)
	s.countPartitions(int64(h.PartitionCount))
	s.placeHub(h)
}

func (c UpdateHub) check(s *State) error {
	h, err := s.hub(c.Namespace, c.Hub)
	if err != nil {
		return err
	}
	if c.PartitionCount != 0 {
		if err := validPartitionCount(c.PartitionCount); err != nil {
			return err
		}
		if c.PartitionCount < h.PartitionCount {
			return errcode.New(errcode.InvalidArgument,
				"event hub %s/%s has %d partitions and cannot shrink to %d; the partition count can only increase",
				c.Namespace, c.Hub, h.PartitionCount, c.PartitionCount)
		}
	}
	if c.RetentionTime != 0 {
		if err := validRetention(c.RetentionTime); err != nil {
			return err
		}
	}
	if c.RetentionBytes != nil {
		if err := validRetentionBytes(*c.RetentionBytes); err != nil {
			return err
		}
	}
	if c.MaxEventBytes != 0 {
		if err := validMaxEventBytes(c.MaxEventBytes); err != nil {
			return err
		}
	}
	if c.Status != "" {
		return validHubStatus(c.Status)
	}
	return nil
}

func (c UpdateHub) apply(s *State) {
	h := s.namespaces[c.Namespace].Hubs[c.Hub]
	if c.PartitionCount != 0 {
		s.countPartitions(int64(c.PartitionCount - h.PartitionCount))
		h.PartitionCount = c.PartitionCount
		s.placePartitions(h)
	}
	if c.RetentionTime != 0 {
		h.RetentionTime = c.RetentionTime
	}
	if c.RetentionBytes != nil {
		h.RetentionBytes = *c.RetentionBytes
	}
	if c.MaxEventBytes != 0 {
		h.MaxEventBytes = c.MaxEventBytes
	}
	if c.Status != "" {
		h.Status = c.Status
	}
	h.UpdatedAt = c.Time
}

func (c DeleteHub) check(s *State) error {
	_, err := s.hub(c.Namespace, c.Hub)
	return err
}

func (c DeleteHub) apply(s *State) {
	n := s.namespaces[c.Namespace]
	s.countPartitions(-int64(n.Hubs[c.Hub].PartitionCount))
	delete(n.Hubs, c.Hub)
	n.dropFolded(c.Hub)
	for g := range n.Offsets {
		n.dropOffsets(g, c.Hub)
	}
	for g := range n.Ownership {
		n.dropOwnership(g, c.Hub)
	}
}

// dropOffsets deletes group's offsets for hub and prunes empty maps.
func (n *Namespace) dropOffsets(group, hub string) {
	delete(n.Offsets[group], hub)
	if len(n.Offsets[group]) == 0 {
		delete(n.Offsets, group)
	}
}

func (c CreateGroup) check(s *State) error {
	h, err := s.hub(c.Namespace, c.Hub)
	if err != nil {
		return err
	}
	if err := validGroupName(c.Group); err != nil {
		return err
	}
	if _, ok := h.Groups[c.Group]; ok {
		return errcode.New(errcode.AlreadyExists,
			"consumer group %q already exists on event hub %s/%s", c.Group, c.Namespace, c.Hub)
	}
	if len(c.UserMetadata) > MaxUserMetadata {
		return errcode.New(errcode.InvalidArgument,
			"consumer group user metadata is %d bytes; the most allowed is %d", len(c.UserMetadata), MaxUserMetadata)
	}
	return nil
}

func (c CreateGroup) apply(s *State) {
	h := s.namespaces[c.Namespace].Hubs[c.Hub]
	h.Groups[c.Group] = &ConsumerGroup{Name: c.Group, UserMetadata: c.UserMetadata, CreatedAt: c.Time}
}

func (c DeleteGroup) check(s *State) error {
	if _, err := s.group(c.Namespace, c.Hub, c.Group); err != nil {
		return err
	}
	if c.Group == DefaultGroup {
		return errcode.New(errcode.InvalidArgument,
			"consumer group %s cannot be deleted; every event hub keeps it (delete the event hub instead)", DefaultGroup)
	}
	return nil
}

func (c DeleteGroup) apply(s *State) {
	n := s.namespaces[c.Namespace]
	delete(n.Hubs[c.Hub].Groups, c.Group)
	n.dropOffsets(c.Group, c.Hub)
	n.dropOwnership(c.Group, c.Hub)
}

func (c CommitOffsets) check(s *State) error {
	h, err := s.hub(c.Namespace, c.Hub)
	if err != nil {
		return err
	}
	if err := validGroupName(c.Group); err != nil {
		return err
	}
	if len(c.Offsets) == 0 || len(c.Offsets) > MaxOffsetsPerCommit {
		return errcode.New(errcode.InvalidArgument,
			"an offset commit carries %d offsets; commit 1 to %d at a time", len(c.Offsets), MaxOffsetsPerCommit)
	}
	for _, o := range c.Offsets {
		if err := checkPartition(c.Namespace, h, o.Partition); err != nil {
			return err
		}
		if o.Offset < 0 {
			return errcode.New(errcode.InvalidArgument,
				"offset %d for partition %d is negative; commit the offset of the next event to read", o.Offset, o.Partition)
		}
		if len(o.Metadata) > MaxOffsetMetadata {
			return errcode.New(errcode.InvalidArgument,
				"checkpoint metadata for partition %d is %d bytes; the most allowed is %d", o.Partition, len(o.Metadata), MaxOffsetMetadata)
		}
	}
	if _, ok := h.Groups[c.Group]; !ok && c.GroupMustExist {
		return errcode.New(errcode.NotFound,
			"consumer group %s not found on event hub %s/%s; create it first", c.Group, c.Namespace, c.Hub)
	}
	return nil
}

func checkPartition(ns string, h *Hub, p int32) error {
	if p < 0 || p >= h.PartitionCount {
		return errcode.New(errcode.PartitionNotFound,
			"partition %d does not exist on event hub %s/%s, which has partitions 0 to %d", p, ns, h.Name, h.PartitionCount-1)
	}
	return nil
}

func (c CommitOffsets) apply(s *State) {
	n := s.namespaces[c.Namespace]
	h := n.Hubs[c.Hub]
	if _, ok := h.Groups[c.Group]; !ok {
		h.Groups[c.Group] = &ConsumerGroup{Name: c.Group, CreatedAt: c.Time}
	}
	hubs := n.Offsets[c.Group]
	if hubs == nil {
		hubs = map[string]map[int32]Checkpoint{}
		n.Offsets[c.Group] = hubs
	}
	parts := hubs[c.Hub]
	if parts == nil {
		parts = map[int32]Checkpoint{}
		hubs[c.Hub] = parts
	}
	for _, o := range c.Offsets {
		parts[o.Partition] = Checkpoint{Offset: o.Offset, Metadata: o.Metadata, CommitTime: c.Time}
	}
}

func (c DeleteOffsets) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	if c.Hub != "" {
		if _, err := s.group(c.Namespace, c.Hub, c.Group); err != nil {
			return err
		}
		for _, p := range c.Partitions {
			if err := checkPartition(c.Namespace, n.Hubs[c.Hub], p); err != nil {
				return err
			}
		}
		return nil
	}
	if len(c.Partitions) > 0 {
		return errcode.New(errcode.InvalidArgument,
			"deleting offsets of partitions %v needs the event hub they belong to; name the hub", c.Partitions)
	}
	if _, ok := n.Offsets[c.Group]; !ok {
		return errcode.New(errcode.NotFound,
			"consumer group %q has no committed offsets in namespace %q", c.Group, c.Namespace)
	}
	return nil
}

func (c DeleteOffsets) apply(s *State) {
	n := s.namespaces[c.Namespace]
	if c.Hub == "" {
		delete(n.Offsets, c.Group)
		return
	}
	if len(c.Partitions) == 0 {
		n.dropOffsets(c.Group, c.Hub)
		return
	}
	for _, p := range c.Partitions {
		delete(n.Offsets[c.Group][c.Hub], p)
	}
	if len(n.Offsets[c.Group][c.Hub]) == 0 {
		n.dropOffsets(c.Group, c.Hub)
	}
}
