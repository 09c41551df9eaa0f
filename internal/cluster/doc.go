// Package cluster is one node of a region's cluster: it wires the node-wide
// raft WAL (internal/raftwal), the node-to-node transport (internal/raftnet)
// and the multi-raft host (internal/multiraft) into a Node, and it holds the
// two pure parts every node must compute identically: the cluster
// configuration (Config, parsed from --node-id/--zone/--cluster) and replica
// placement (Place, GroupID).
//
// The package owns the wiring (the LogStore adapter over the WAL, the
// Envelope conversion between transport and host, the open/close order) and
// nothing else. It does not own raft scheduling (multiraft), durable storage
// (raftwal), the wire protocol (raftnet) or any state machine (internal/broker
// partitions, internal/meta metadata): those are passed in through AddGroup.
// It must not import internal/broker or internal/meta.
//
// A Node starts no goroutine of its own; the host and the transport own theirs
// and Node.Close waits for both, then closes the WAL.
package cluster
