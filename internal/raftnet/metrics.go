package raftnet

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a message is dropped (the reason label of tandem_raftnet_messages_dropped_total).
const (
	dropQueueFull   = "queue_full"   // the peer's lane was full (slow or dead peer)
	dropTooLarge    = "too_large"    // the message alone exceeds the frame cap
	dropUnknownPeer = "unknown_peer" // no address for the message's To
	dropClosed      = "closed"       // sent after Close
	dropInvalid     = "invalid"      // received with a To or From that does not match the link
)

// metrics are the transport's Prometheus series, labelled by peer node id.
type metrics struct {
	sent       *prometheus.CounterVec // peer
	frames     *prometheus.CounterVec // peer
	bytes      *prometheus.CounterVec // peer
	received   *prometheus.CounterVec // peer
	dropped    *prometheus.CounterVec // peer, reason
	connects   *prometheus.CounterVec // peer
	handshakes *prometheus.CounterVec // side (dial, accept), reason
}

func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		sent: counter("tandem_raftnet_messages_sent_total",
			"Raft messages written to a peer's connection.", "peer"),
		frames: counter("tandem_raftnet_frames_sent_total",
			"Batch frames written to a peer's connection (each holds every message queued when the sender woke).", "peer"),
		bytes: counter("tandem_raftnet_bytes_sent_total",
			"Bytes of batch frames written to a peer's connection.", "peer"),
		received: counter("tandem_raftnet_messages_received_total",
			"Raft messages received from a peer and handed to the raft host.", "peer"),
		dropped: counter("tandem_raftnet_messages_dropped_total",
			"Raft messages dropped, by peer and reason (queue_full means the peer is slow or down).", "peer", "reason"),
		connects: counter("tandem_raftnet_connects_total",
			"Authenticated connections this node opened to a peer.", "peer"),
		handshakes: counter("tandem_raftnet_handshake_failures_total",
			"Refused or failed handshakes, by side (dial, accept) and reason (bad_mac means a wrong cluster secret).", "side", "reason"),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.frames, m.bytes, m.received, m.dropped, m.connects, m.handshakes)
	}
	return m
}

func peerLabel(id uint64) string { return strconv.FormatUint(id, 10) }

// dropConnLost counts messages in a frame whose write failed.
const dropConnLost = "conn_lost"
