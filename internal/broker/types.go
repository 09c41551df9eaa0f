package broker

import (
	"time"
)

// NamespaceSpec is what a user sets on a namespace.
type NamespaceSpec struct {
	Name    string
	Tier    string // basic, standard (default), premium, dedicated
	Cluster string // dedicated cluster id, for the dedicated tier
	// Network rules: DefaultAction "Allow" (default) or "Deny"; IPRules are CIDRs allowed
	// when the default is Deny; PrivateEndpoints are listener addresses.
	DefaultAction    string
	IPRules          []string
	PrivateEndpoints []string
}

// NamespaceInfo is a namespace as the API shows it.
type NamespaceInfo struct {
	NamespaceSpec
	Region    string
	CreatedAt time.Time
	UpdatedAt time.Time
	HubCount  int
}

// HubSpec is what a user sets on an event hub. Zero values take the defaults.
type HubSpec struct {
	Name           string
	Partitions     int32
	RetentionTime  time.Duration
	RetentionBytes int64
	MaxEventBytes  int32
}

// HubInfo is an event hub as the API and the protocols see it.
type HubInfo struct {
	Namespace      string
	Name           string
	ID             [16]byte // Kafka topic id, stable for one incarnation of the hub
	Incarnation    string   // distinguishes a hub from an earlier one of the same name
	Partitions     int32
	RetentionTime  time.Duration
	RetentionBytes int64
	MaxEventBytes  int32
	SegmentBytes   int64
	ConsumerGroups []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ConsumerGroupInfo is a consumer group of a hub.
type ConsumerGroupInfo struct {
	Name         string
	UserMetadata string
	CreatedAt    time.Time
}

// PolicyInfo is a shared access policy (authorization rule) with its keys.
type PolicyInfo struct {
	Name         string
	Rights       []string // "Manage", "Send", "Listen"
	PrimaryKey   string
	SecondaryKey string
}

// OffsetCommit is one partition's checkpoint to store.
type OffsetCommit struct {
	Partition int32
	Offset    int64
	Metadata  string
}

// Checkpoint is a stored consumer position.
type Checkpoint struct {
	Offset     int64
	Metadata   string
	CommitTime time.Time
}

// Event is one event to send over HTTP.
type Event struct {
	Body         []byte
	PartitionKey string
	Properties   map[string]string
}

// SendOptions route a send: to a partition id, or by each event's partition key (hashed
// as Kafka's default partitioner does, so Kafka and HTTP producers agree), or round-robin.
type SendOptions struct {
	PartitionID *int32
}

// SendResult says where an event landed.
type SendResult struct {
	Partition      int32
	Offset         int64
	SequenceNumber int64
	EnqueuedTime   time.Time
}

// PositionKind is where a receive starts.
type PositionKind int

const (
	FromStart PositionKind = iota
	FromEnd
	FromOffset       // at Offset
	FromSequence     // at SequenceNumber (equal to the offset in Tandem)
	FromEnqueuedTime // first event enqueued at or after Time
)

// Position is an Event Hubs event position.
type Position struct {
	Kind   PositionKind
	Offset int64
	Time   time.Time
}

// ReceivedEvent is an event with its system properties.
type ReceivedEvent struct {
	Body           []byte
	PartitionKey   string
	Properties     map[string]string
	Partition      int32
	Offset         int64
	SequenceNumber int64
	EnqueuedTime   time.Time
}
