package linz

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is an operation on metadata.
type Kind uint8

const (
	CreateHub     Kind = iota // PUT hub with a partition count: create, or grow it
	DeleteHub                 // DELETE hub
	GetHub                    // GET hub: exists and partition count
	CreateGroup               // PUT consumer group with user metadata
	DeleteGroup               // DELETE consumer group
	ListGroups                // GET the consumer groups of a hub
	SetCheckpoint             // PUT checkpoint (group, partition, offset)
	GetCheckpoint             // GET checkpoint (group, partition)
)

var kindNames = [...]string{"CreateHub", "DeleteHub", "GetHub", "CreateGroup", "DeleteGroup", "ListGroups", "SetCheckpoint", "GetCheckpoint"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// IsRead reports whether the operation changes nothing; a read without an answer constrains
// nothing and a runner may drop it from the history.
func (k Kind) IsRead() bool { return k == GetHub || k == ListGroups || k == GetCheckpoint }

// Input is one call. Hub is the partition key of the history: every operation touches one hub.
type Input struct {
	Kind       Kind
	Hub        string
	Partitions int32  // CreateHub: the partition count asked for
	Group      string // the group operations
	Meta       string // CreateGroup: user metadata
	Partition  int32  // SetCheckpoint, GetCheckpoint
	Offset     int64  // SetCheckpoint
	// Node is the node of a cluster the call was sent to (1, 2, …; 0: the only node). The
	// model ignores it: any node answers for the whole region. It is there to read a failure.
	Node int
}

func (in Input) String() string {
	if in.Node != 0 {
		at := in
		at.Node = 0
		return fmt.Sprintf("%v@n%d", at, in.Node)
	}
	switch in.Kind {
	case CreateHub:
		return fmt.Sprintf("CreateHub(%s, %d)", in.Hub, in.Partitions)
	case DeleteHub, GetHub, ListGroups:
		return fmt.Sprintf("%v(%s)", in.Kind, in.Hub)
	case CreateGroup:
		return fmt.Sprintf("CreateGroup(%s/%s, %q)", in.Hub, in.Group, in.Meta)
	case DeleteGroup:
		return fmt.Sprintf("DeleteGroup(%s/%s)", in.Hub, in.Group)
	case SetCheckpoint:
		return fmt.Sprintf("SetCheckpoint(%s/%s/%d, %d)", in.Hub, in.Group, in.Partition, in.Offset)
	case GetCheckpoint:
		return fmt.Sprintf("GetCheckpoint(%s/%s/%d)", in.Hub, in.Group, in.Partition)
	}
	return in.Kind.String()
}

// Result is how a call ended.
type Result string

const (
	Unknown     Result = "unknown"    // no answer: timeout, connection reset; it may or may not have happened
	OK          Result = "200"        // done (or already so: PUT of what exists)
	Created     Result = "201"        // created
	NotFound    Result = "404"        // the hub, group or checkpoint does not exist
	Conflict    Result = "409"        // the group exists with other user metadata
	Invalid     Result = "400"        // refused: shrinking a hub, deleting $Default
	NoPartition Result = "partition?" // the partition is not in the hub (PartitionNotFound)
)

// Output is what a call returned. Only the fields of the call's kind and result are set.
type Output struct {
	Result     Result
	Partitions int32  // CreateHub, GetHub with OK/Created
	Groups     string // ListGroups with OK: Groups(...) of the answer
	Offset     int64  // SetCheckpoint, GetCheckpoint with OK
}

func (o Output) String() string {
	switch {
	case o.Result != OK && o.Result != Created:
		return string(o.Result)
	case o.Groups != "":
		return fmt.Sprintf("%s [%s]", o.Result, o.Groups)
	case o.Partitions != 0:
		return fmt.Sprintf("%s partitions=%d", o.Result, o.Partitions)
	}
	return fmt.Sprintf("%s offset=%d", o.Result, o.Offset)
}

// Groups is the canonical form of a list of consumer groups for Output.Groups: name=meta
// pairs sorted by name, comma-separated. metas[i] is the user metadata of names[i].
func Groups(names, metas []string) string {
	pairs := make([]string, len(names))
	for i, n := range names {
		pairs[i] = n + "=" + metas[i]
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
