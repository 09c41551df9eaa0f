package meta

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// CommandVersion is the version of the command encoding this code writes and reads. A command
// with a higher version comes from a newer node and is refused with a clear error.
const CommandVersion = 1

// CommandType names a command in its JSON form.
type CommandType string

// Command is one metadata change. The set of commands is closed: the implementations are the
// types of this file. Commands are values; timestamps and generated keys travel inside them so
// that applying a command is deterministic on every replica and in every region.
type Command interface {
	Type() CommandType
	check(s *State) error // validates against s without mutating anything
	apply(s *State)       // mutates s; called only after check succeeded
}

// CreateNamespace creates a namespace with its RootManageSharedAccessKey policy (Manage, Send,
// Listen), whose keys the proposer generated.
type CreateNamespace struct {
	Namespace        string            `json:"ns"`
	Tier             Tier              `json:"tier"` // empty means standard
	Cluster          string            `json:"cluster,omitempty"`
	NetworkRules     NetworkRules      `json:"networkRules"`
	Labels           map[string]string `json:"labels,omitempty"`
	RootPrimaryKey   string            `json:"rootPrimaryKey"`
	RootSecondaryKey string            `json:"rootSecondaryKey"`
	Time             time.Time         `json:"time"`
}

// UpdateNamespace changes a namespace's tier, network rules or labels. Zero fields are unchanged.
type UpdateNamespace struct {
	Namespace    string            `json:"ns"`
	Tier         Tier              `json:"tier,omitempty"`
	NetworkRules *NetworkRules     `json:"networkRules,omitempty"` // replaces the rules when set
	SetLabels    map[string]string `json:"setLabels,omitempty"`
	DeleteLabels []string          `json:"deleteLabels,omitempty"`
	Time         time.Time         `json:"time"`
}

// DeleteNamespace deletes a namespace with everything in it.
type DeleteNamespace struct {
	Namespace string `json:"ns"`
}

// PutPolicy creates or updates a shared access policy of a namespace (Hub empty) or of a hub.
// Creating needs both keys; updating replaces the rights and, when given, the keys.
type PutPolicy struct {
	Namespace    string      `json:"ns"`
	Hub          string      `json:"hub,omitempty"`
	Name         string      `json:"name"`
	Rights       auth.Rights `json:"rights"`
	PrimaryKey   string      `json:"primaryKey,omitempty"`
	SecondaryKey string      `json:"secondaryKey,omitempty"`
	Time         time.Time   `json:"time"`
}

// DeletePolicy deletes a shared access policy of a namespace (Hub empty) or of a hub.
type DeletePolicy struct {
	Namespace string    `json:"ns"`
	Hub       string    `json:"hub,omitempty"`
	Name      string    `json:"name"`
	Time      time.Time `json:"time"`
}

// KeyType selects one of a policy's two keys, as in Azure's regenerateKeys call.
type KeyType string

// The key types.
const (
	PrimaryKey   KeyType = "PrimaryKey"
	SecondaryKey KeyType = "SecondaryKey"
)

// RegenerateKey replaces one key of a policy with Key, which the proposer generated.
type RegenerateKey struct {
	Namespace string    `json:"ns"`
	Hub       string    `json:"hub,omitempty"`
	Name      string    `json:"name"`
	KeyType   KeyType   `json:"keyType"`
	Key       string    `json:"key"`
	Time      time.Time `json:"time"`
}

// CreateHub creates an event hub with its $Default consumer group. Zero fields take the Event
// Hubs defaults: 4 partitions, 24h retention, unlimited size, 1 MiB max event size, Active.
type CreateHub struct {
	Namespace      string        `json:"ns"`
	Hub            string        `json:"hub"`
	PartitionCount int32         `json:"partitionCount,omitempty"`
	RetentionTime  time.Duration `json:"retentionTime,omitempty"`
	RetentionBytes int64         `json:"retentionBytes,omitempty"`
	MaxEventBytes  int32         `json:"maxEventBytes,omitempty"`
	Status         HubStatus     `json:"status,omitempty"`
	Time           time.Time     `json:"time"`
}

// UpdateHub changes an event hub. Zero fields (nil RetentionBytes) are unchanged; the partition
// count can only increase.
type UpdateHub struct {
	Namespace      string        `json:"ns"`
	Hub            string        `json:"hub"`
	PartitionCount int32         `json:"partitionCount,omitempty"`
	RetentionTime  time.Duration `json:"retentionTime,omitempty"`
	RetentionBytes *int64        `json:"retentionBytes,omitempty"`
	MaxEventBytes  int32         `json:"maxEventBytes,omitempty"`
	Status         HubStatus     `json:"status,omitempty"`
	Time           time.Time     `json:"time"`
}

// DeleteHub deletes an event hub, its consumer groups and their committed offsets.
type DeleteHub struct {
	Namespace string `json:"ns"`
	Hub       string `json:"hub"`
}

// CreateGroup creates a consumer group on an event hub.
type CreateGroup struct {
	Namespace    string    `json:"ns"`
	Hub          string    `json:"hub"`
	Group        string    `json:"group"`
	UserMetadata string    `json:"userMetadata,omitempty"`
	Time         time.Time `json:"time"`
}

// DeleteGroup deletes a consumer group of an event hub and its committed offsets for that hub.
type DeleteGroup struct {
	Namespace string `json:"ns"`
	Hub       string `json:"hub"`
	Group     string `json:"group"`
}

// PartitionOffset is one committed offset.
type PartitionOffset struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata,omitempty"`
}

// CommitOffsets commits offsets (checkpoints) of group for hub. A group that does not exist on
// the hub is created, as Event Hubs' Kafka endpoint does, unless GroupMustExist (the HTTP
// checkpoint API), which makes a missing group NotFound.
type CommitOffsets struct {
	Namespace      string            `json:"ns"`
	Group          string            `json:"group"`
	Hub            string            `json:"hub"`
	Offsets        []PartitionOffset `json:"offsets"`
	Time           time.Time         `json:"time"`
	GroupMustExist bool              `json:"groupMustExist,omitempty"`
}

// DeleteOffsets deletes committed offsets of group: for one hub, or every hub when Hub is
// empty; for the listed partitions, or all when Partitions is empty.
type DeleteOffsets struct {
	Namespace  string  `json:"ns"`
	Group      string  `json:"group"`
	Hub        string  `json:"hub,omitempty"`
	Partitions []int32 `json:"partitions,omitempty"`
}

// The command types, as they appear in the "type" field.
const (
	TypeCreateNamespace CommandType = "CreateNamespace"
	TypeUpdateNamespace CommandType = "UpdateNamespace"
	TypeDeleteNamespace CommandType = "DeleteNamespace"
	TypePutPolicy       CommandType = "PutPolicy"
	TypeDeletePolicy    CommandType = "DeletePolicy"
	TypeRegenerateKey   CommandType = "RegenerateKey"
	TypeCreateHub       CommandType = "CreateHub"
	TypeUpdateHub       CommandType = "UpdateHub"
	TypeDeleteHub       CommandType = "DeleteHub"
	TypeCreateGroup     CommandType = "CreateGroup"
	TypeDeleteGroup     CommandType = "DeleteGroup"
	TypeCommitOffsets   CommandType = "CommitOffsets"
	TypeDeleteOffsets   CommandType = "DeleteOffsets"
)

// Type implements Command.
func (CreateNamespace) Type() CommandType { return TypeCreateNamespace }

// Type implements Command.
func (UpdateNamespace) Type() CommandType { return TypeUpdateNamespace }

// Type implements Command.
func (DeleteNamespace) Type() CommandType { return TypeDeleteNamespace }

// Type implements Command.
func (PutPolicy) Type() CommandType { return TypePutPolicy }

// Type implements Command.
func (DeletePolicy) Type() CommandType { return TypeDeletePolicy }

// Type implements Command.
func (RegenerateKey) Type() CommandType { return TypeRegenerateKey }

// Type implements Command.
func (CreateHub) Type() CommandType { return TypeCreateHub }

// Type implements Command.
func (UpdateHub) Type() CommandType { return TypeUpdateHub }

// Type implements Command.
func (DeleteHub) Type() CommandType { return TypeDeleteHub }

// Type implements Command.
func (CreateGroup) Type() CommandType { return TypeCreateGroup }

// Type implements Command.
func (DeleteGroup) Type() CommandType { return TypeDeleteGroup }

// Type implements Command.
func (CommitOffsets) Type() CommandType { return TypeCommitOffsets }

// Type implements Command.
func (DeleteOffsets) Type() CommandType { return TypeDeleteOffsets }

var decoders = map[CommandType]func([]byte) (Command, error){
	TypeCreateNamespace:    decodeAs[CreateNamespace],
	TypeUpdateNamespace:    decodeAs[UpdateNamespace],
	TypeDeleteNamespace:    decodeAs[DeleteNamespace],
	TypePutPolicy:          decodeAs[PutPolicy],
	TypeDeletePolicy:       decodeAs[DeletePolicy],
	TypeRegenerateKey:      decodeAs[RegenerateKey],
	TypeCreateHub:          decodeAs[CreateHub],
	TypeUpdateHub:          decodeAs[UpdateHub],
	TypeDeleteHub:          decodeAs[DeleteHub],
	TypeCreateGroup:        decodeAs[CreateGroup],
	TypeDeleteGroup:        decodeAs[DeleteGroup],
	TypeCommitOffsets:      decodeAs[CommitOffsets],
	TypeDeleteOffsets:      decodeAs[DeleteOffsets],
	TypeSetAlias:           decodeAs[SetAlias],
	TypeClearAlias:         decodeAs[ClearAlias],
	TypeReplicated:         decodeAs[Replicated],
	TypeRetireAlias:        decodeAs[RetireAlias],
	TypeReleaseAlias:       decodeAs[ReleaseAlias],
	TypeClusterMembers:     decodeAs[ClusterMembers],
	TypeSetMemberEndpoints: decodeAs[SetMemberEndpoints],
	TypePutJob:             decodeAs[PutJob], TypeDeleteJob: decodeAs[DeleteJob], TypeAcquireJobLease: decodeAs[AcquireJobLease], TypeReleaseJobLease: decodeAs[ReleaseJobLease], TypeSaveJobCheckpoint: decodeAs[SaveJobCheckpoint],
	TypeClaimOwnership:  decodeAs[ClaimOwnership],
	TypeClaimOwnerLevel: decodeAs[ClaimOwnerLevel],
}

// CommandTypes lists the command types this code understands, sorted.
func CommandTypes() []CommandType {
	out := make([]CommandType, 0, len(decoders))
	for t := range decoders {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func decodeAs[T Command](b []byte) (Command, error) {
	var c T
	err := json.Unmarshal(b, &c)
	return c, err
}

// EncodeCommand returns the JSON form of c: one flat object whose "v" is CommandVersion and
// whose "type" names the command, followed by the command's fields:
//
//	{"v":1,"type":"CreateHub","ns":"ns1","hub":"orders","partitionCount":8,"time":"…"}
func EncodeCommand(c Command) ([]byte, error) {
	if c == nil {
		return nil, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	if _, ok := decoders[c.Type()]; !ok {
		return nil, errcode.New(errcode.Internal, "metadata command type %q has no decoder", c.Type())
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, errcode.New(errcode.Internal, "encoding %s command: %w", c.Type(), err)
	}
	head, _ := json.Marshal(struct {
		V    int         `json:"v"`
		Type CommandType `json:"type"`
	}{CommandVersion, c.Type()})
	if !bytes.Equal(body, []byte("{}")) {
		head[len(head)-1] = ','
		head = append(head, body[1:]...)
	}
	return head, nil
}

// DecodeCommand parses the JSON form written by EncodeCommand. Unknown fields are ignored, so a
// newer node may add optional fields within a version; unknown types and newer versions are
// refused with errcode.UnsupportedVersion.
func DecodeCommand(b []byte) (Command, error) {
	var head struct {
		V    int         `json:"v"`
		Type CommandType `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, errcode.New(errcode.CorruptData, "metadata command is not a JSON object: %w", err)
	}
	if head.V < 1 || head.V > CommandVersion {
		return nil, errcode.New(errcode.UnsupportedVersion,
			"metadata command version %d is not supported (this node reads version 1 to %d); upgrade tandem on this node",
			head.V, CommandVersion)
	}
	dec, ok := decoders[head.Type]
	if !ok {
		return nil, errcode.New(errcode.UnsupportedVersion,
			"unknown metadata command type %q; this node understands %v; upgrade tandem on this node", head.Type, CommandTypes())
	}
	c, err := dec(b)
	if err != nil {
		return nil, errcode.New(errcode.CorruptData, "decoding %s command: %w", head.Type, err)
	}
	return c, nil
}

// Entry is a committed command and its index in the metadata log.
type Entry struct {
	Index   uint64
	Command Command
}

type entryJSON struct {
	Index   uint64          `json:"index"`
	Command json.RawMessage `json:"command"`
}

// MarshalJSON encodes the entry as {"index":N,"command":{…}} for shipping to a secondary.
func (e Entry) MarshalJSON() ([]byte, error) {
	c, err := EncodeCommand(e.Command)
	if err != nil {
		return nil, err
	}
	return json.Marshal(entryJSON{e.Index, c})
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return errcode.New(errcode.CorruptData, "metadata log entry is not valid JSON: %w", err)
	}
	c, err := DecodeCommand(j.Command)
	if err != nil {
		return err
	}
	*e = Entry{Index: j.Index, Command: c}
	return nil
}
