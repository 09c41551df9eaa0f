package meta

import "github.com/tandem-streaming/tandem/internal/errcode"

// Receiver owner levels (Event Hubs epochs) in a cluster. An AMQP receiver stays on the node
// it connected to, and Event Hubs' owner rules span every receiver of a consumer group's
// partition, so each node announces its receivers through the metadata log: a
// ClaimOwnerLevel names the receiver, its node and its owner level, and every node, reading
// the claim where its place in the log puts it, disconnects its own receivers that the claim
// supersedes and answers a claim its own receiver supersedes with a claim of that receiver
// (internal/amqp/eventhubs).
//
// A claim changes no state: the live receivers are the nodes' (a receiver's link, not a
// record), and a node that stops takes its receivers with it. The log only orders the claims
// the same way on every node. Claims are region-local: geo-DR does not ship them.

// MaxReceiverNameBytes bounds a claim's receiver name (com.microsoft:receiver-name or the
// link name).
const MaxReceiverNameBytes = 1024

// ClaimOwnerLevel announces a receiver of partition Partition of Group on Hub, on node Node,
// with owner level Epoch (nil: a receiver without one). ID tells the node's receivers apart.
// Reassert marks a claim made in answer to a lower one.
type ClaimOwnerLevel struct {
	Namespace string `json:"ns"`
	Hub       string `json:"hub"`
	Group     string `json:"group"`
	Partition int32  `json:"partition"`
	Epoch     *int64 `json:"epoch,omitempty"`
	Node      uint64 `json:"node"`
	Receiver  string `json:"receiver"`
	ID        uint64 `json:"id"`
	Reassert  bool   `json:"reassert,omitempty"`
}

// TypeClaimOwnerLevel is ClaimOwnerLevel's type.
const TypeClaimOwnerLevel CommandType = "ClaimOwnerLevel"

// Type implements Command.
func (ClaimOwnerLevel) Type() CommandType { return TypeClaimOwnerLevel }

func (c ClaimOwnerLevel) check(s *State) error {
	if _, err := s.group(c.Namespace, c.Hub, c.Group); err != nil {
		return err
	}
	h := s.namespaces[c.Namespace].Hubs[c.Hub]
	if c.Partition < 0 || c.Partition >= h.PartitionCount {
		return errcode.New(errcode.PartitionNotFound, "partition %d does not exist in event hub %s/%s, which has %d partitions",
			c.Partition, c.Namespace, c.Hub, h.PartitionCount)
	}
	if len(c.Receiver) > MaxReceiverNameBytes {
		return errcode.New(errcode.InvalidArgument, "receiver name of %d bytes; at most %d", len(c.Receiver), MaxReceiverNameBytes)
	}
	return nil
}

func (ClaimOwnerLevel) apply(*State) {} // the claim is read from the log, not kept (see above)

// Changed returns a channel closed at the next commit (taken before reading Index, so that
// no commit after that read is missed).
func (s *served) Changed() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.notify
}
