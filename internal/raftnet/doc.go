// Package raftnet is the node-to-node raft transport of a region: it carries raft messages of
// many raft groups between the nodes of one cluster (replication.md §3.2 "transport").
//
// It owns the TCP connections between nodes, the wire format (length-prefixed, CRC-checked
// frames), the mutual authentication of peers with the cluster secret (a challenge-response
// handshake with HMAC-SHA256, inside TLS when TLS is configured), the per-peer send queues
// with priority for votes and heartbeats, and the metrics about all of that. It must not
// touch raft state: it never steps a RawNode, never reads storage and never decides what a
// message means. Messages are delivered to the Handler the host gives it, and messages it
// cannot deliver are dropped and counted (raft tolerates loss). Snapshots are out of band:
// a frame is capped (MaxFrameBytes) and this package is not the place for segment files.
//
// Connections are one-way: each node dials one connection to each peer and sends all its
// raft messages for that peer on it; it receives that peer's messages on the connection the
// peer dialed. Every goroutine is owned by the Transport and has ended when Close returns.
//
// Wire format. A frame is
//
//	length  uint32 big-endian   bytes of payload
//	crc     uint32 big-endian   CRC-32C (Castagnoli) of payload
//	payload kind byte, then the body of that kind
//
// The dialer sends hello{version, from, to, nonceC}; the listener answers
// challenge{from, nonceS}; the dialer sends auth{macC}; the listener checks macC and only
// then answers welcome{macS}, which the dialer checks before it sends any raft message.
// mac = HMAC-SHA256(secret, label || dialerID || listenerID || nonceC || nonceS) with a
// different label for each side, compared in constant time. The secret itself never crosses
// the wire, and a stranger that dials a node learns no MAC. After that the dialer sends only batch frames:
// uvarint count, then count × {uvarint group, uvarint len·4+enc, len bytes}. enc 0: the bytes
// are a protobuf raftpb.Message. enc 1 and 2 are coalesced heartbeats (replication.md §3.2):
// a MsgHeartbeat {uvarint term, uvarint commit} or a MsgHeartbeatResp {uvarint term} with
// no other field set; From and To are the link's, and the receiver rebuilds exactly the
// message raft sent. The heartbeats of one tick for one peer therefore travel in one or
// a few frames (one per sender wake-up) at a few bytes per group. Heartbeats with a ReadIndex context travel as protobuf.
package raftnet
