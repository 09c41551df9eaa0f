package eventhubs

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// Receiver ownership, as Event Hubs enforces it per consumer group and partition:
//
//   - a receiver with an epoch (owner level, link property com.microsoft:epoch) at least as
//     high as every other disconnects the others (amqp:link:stolen);
//   - a receiver with a lower epoch than an existing one is refused;
//   - a receiver without an epoch is refused while a receiver with one exists;
//   - at most MaxReceiversPerPartition (5) receivers without an epoch share a partition.
//
// The registry is the node's (every connection's receivers), so processors on different
// connections steal from each other as they do on Event Hubs.

// epochKey names a consumer group's partition; the group is lower-cased (Event Hubs group
// names are case-insensitive: Go says $Default, JS $default).
type epochKey struct {
	ns, hub, group string
	partition      int32
}

// receiverEntry is one registered receiver. stolen is closed when a newer receiver takes the
// partition; reason says why (set before the close).
type receiverEntry struct {
	name     string
	epoch    int64
	hasEpoch bool
	stolen   chan struct{}
	reason   *frames.Error
}

// Stolen returns a channel closed when the receiver has been disconnected by another.
func (e *receiverEntry) Stolen() <-chan struct{} { return e.stolen }

// Reason is the error to detach the link with once Stolen is closed.
func (e *receiverEntry) Reason() *frames.Error { return e.reason }

type epochRegistry struct {
	maxNonEpoch int
	mu          struct {
		sync.Mutex
		parts map[epochKey][]*receiverEntry
	}
}

func newEpochRegistry(maxNonEpoch int) *epochRegistry {
	r := &epochRegistry{maxNonEpoch: maxNonEpoch}
	r.mu.parts = map[epochKey][]*receiverEntry{}
	return r
}

func epochText(e *receiverEntry) string {
	if !e.hasEpoch {
		return "none"
	}
	return fmt.Sprint(e.epoch)
}

// register adds a receiver named name (its com.microsoft:receiver-name, or the link name) with
// an optional epoch, disconnecting the receivers it supersedes, or refuses it.
func (r *epochRegistry) register(k epochKey, name string, epoch *int64) (*receiverEntry, *frames.Error) {
	k.group = strings.ToLower(k.group)
	e := &receiverEntry{name: name, stolen: make(chan struct{})}
	if epoch != nil {
		e.epoch, e.hasEpoch = *epoch, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.mu.parts[k]
	var top *receiverEntry // the existing receiver with the highest epoch
	nonEpoch := 0
	for _, o := range cur {
		if o.hasEpoch && (top == nil || o.epoch > top.epoch) {
			top = o
		}
		if !o.hasEpoch {
			nonEpoch++
		}
	}
	switch {
	case e.hasEpoch && top != nil && e.epoch < top.epoch:
		return nil, errorf(condStolen,
			"Receiver '%s' with epoch '%d' cannot be created because receiver '%s' with a higher epoch of '%d' already exists on partition %d of consumer group %s of event hub %s. Create the receiver with an epoch of at least %d, or close the other one",
			name, e.epoch, top.name, top.epoch, k.partition, k.group, k.hub, top.epoch)
	case !e.hasEpoch && top != nil:
		return nil, errorf(condStolen,
			"At least one receiver for partition %d of consumer group %s of event hub %s is created with epoch of '%d' ('%s'), and so non-epoch receiver '%s' is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected",
			k.partition, k.group, k.hub, top.epoch, top.name, name)
	case !e.hasEpoch && nonEpoch >= r.maxNonEpoch:
		names := make([]string, 0, len(cur))
		for _, o := range cur {
			names = append(names, o.name)
		}
		return nil, errorf(condResourceLimit,
			"Exceeded the maximum number of allowed receivers per partition in a consumer group which is %d (partition %d of consumer group %s of event hub %s). List of connected receivers - %s. Close a receiver, or use an epoch receiver",
			r.maxNonEpoch, k.partition, k.group, k.hub, strings.Join(names, ", "))
	}
	if e.hasEpoch {
		for _, o := range cur {
			o.reason = errorf(condStolen,
				"New receiver '%s' with higher epoch of '%d' is created hence current receiver '%s' with epoch '%s' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used",
				name, e.epoch, o.name, epochText(o))
			close(o.stolen)
		}
		cur = nil
	}
	r.mu.parts[k] = append(cur, e)
	return e, nil
}

// unregister removes a receiver (its link closed); a stolen receiver is already gone.
func (r *epochRegistry) unregister(k epochKey, e *receiverEntry) {
	k.group = strings.ToLower(k.group)
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.mu.parts[k]
	for i, o := range cur {
		if o == e {
			cur = append(cur[:i:i], cur[i+1:]...)
			break
		}
	}
	if len(cur) == 0 {
		delete(r.mu.parts, k)
	} else {
		r.mu.parts[k] = cur
	}
}

// count is the number of receivers registered on k (for tests).
func (r *epochRegistry) count(k epochKey) int {
	k.group = strings.ToLower(k.group)
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.mu.parts[k])
}
