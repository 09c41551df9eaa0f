// Package errcode is Tandem's one catalogue of user-facing errors. Every error a user can see
// carries a stable Code; the catalogue maps it to an HTTP status, a Kafka error code and a CLI
// exit code, so the same failure reads the same on every protocol.
//
// It owns no state and imports nothing of Tandem's. Messages say what was wrong and what to do;
// the code says which kind of failure it was.
package errcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Code is a stable, documented identifier of a kind of failure.
type Code string

// The catalogue. Codes are never renamed once released; add new ones at the end of a group.
const (
	InvalidArgument      Code = "InvalidArgument"    // a request field is malformed or out of range
	NotFound             Code = "NotFound"           // a namespace, hub, group or rule does not exist
	AlreadyExists        Code = "AlreadyExists"      // the entity already exists
	Unauthorized         Code = "Unauthorized"       // no or bad credentials (bad signature, expired token)
	Forbidden            Code = "Forbidden"          // credentials are valid but lack the right
	MessageTooLarge      Code = "MessageTooLarge"    // an event or batch exceeds the hub's max event size
	PartitionNotFound    Code = "PartitionNotFound"  // the partition id is outside the hub's partitions
	OffsetOutOfRange     Code = "OffsetOutOfRange"   // a read position is before the start or after the end
	Conflict             Code = "Conflict"           // the request conflicts with current state
	ReadOnly             Code = "ReadOnly"           // the namespace is a geo-DR secondary and takes no writes
	AliasNotActive       Code = "AliasNotActive"     // the alias is active in another region; go there
	Unavailable          Code = "Unavailable"        // a dependency is down; retry later
	Timeout              Code = "Timeout"            // the operation did not finish in time
	CorruptData          Code = "CorruptData"        // a record batch failed its CRC or framing check
	UnsupportedVersion   Code = "UnsupportedVersion" // a protocol version or feature is not supported
	DuplicateSequence    Code = "DuplicateSequence"  // an idempotent producer re-sent a batch already written
	OutOfOrderSequence   Code = "OutOfOrderSequence" // an idempotent producer skipped a sequence number
	UnknownProducer      Code = "UnknownProducerId"  // the producer id is unknown to the partition
	InvalidProducerEpoch Code = "InvalidProducerEpoch"
	IllegalGeneration    Code = "IllegalGeneration"   // consumer-group generation is stale
	UnknownMember        Code = "UnknownMemberId"     // consumer-group member is not in the group
	RebalanceInProgress  Code = "RebalanceInProgress" // consumer group is rebalancing
	QuotaExceeded        Code = "QuotaExceeded"       // a configured bound (a spool's size) would be exceeded
	Mismatch             Code = "Mismatch"            // two things that must agree do not (output diff)
	Internal             Code = "Internal"            // a bug or an unexpected I/O failure
	NotLeader            Code = "NotLeader"           // another node of the region leads the partition; refresh metadata and go there
	PreconditionFailed   Code = "PreconditionFailed"  // a conditional write's ETag (If-Match, If-None-Match) no longer holds; read again

	// Consumer-group coordination in a region cluster.
	NotCoordinator          Code = "NotCoordinator"          // another node (the metadata leader) coordinates consumer groups; find the coordinator again
	CoordinatorNotAvailable Code = "CoordinatorNotAvailable" // no node coordinates consumer groups right now (an election, or a new leader still applying); retry shortly

	// Leader epochs (KIP-320): the client's view of a partition's leader differs from this node's.
	FencedLeaderEpoch  Code = "FencedLeaderEpoch"  // the client's leader epoch is older than the leader's: refresh metadata
	UnknownLeaderEpoch Code = "UnknownLeaderEpoch" // the client knows a newer leader epoch than this node: another node leads now; refresh metadata
)

type info struct {
	http  int
	kafka int16
	exit  int
}

var catalogue = map[Code]info{
	InvalidArgument:      {http.StatusBadRequest, kerr.InvalidRequest.Code, 2},
	NotFound:             {http.StatusNotFound, kerr.UnknownTopicOrPartition.Code, 3},
	AlreadyExists:        {http.StatusConflict, kerr.TopicAlreadyExists.Code, 4},
	Unauthorized:         {http.StatusUnauthorized, kerr.SaslAuthenticationFailed.Code, 5},
	Forbidden:            {http.StatusForbidden, kerr.TopicAuthorizationFailed.Code, 5},
	MessageTooLarge:      {http.StatusRequestEntityTooLarge, kerr.MessageTooLarge.Code, 2},
	PartitionNotFound:    {http.StatusNotFound, kerr.UnknownTopicOrPartition.Code, 3},
	OffsetOutOfRange:     {http.StatusRequestedRangeNotSatisfiable, kerr.OffsetOutOfRange.Code, 2},
	Conflict:             {http.StatusConflict, kerr.InvalidRequest.Code, 4},
	ReadOnly:             {http.StatusForbidden, kerr.PolicyViolation.Code, 6},
	AliasNotActive:       {http.StatusMisdirectedRequest, kerr.NotLeaderForPartition.Code, 6},
	Unavailable:          {http.StatusServiceUnavailable, kerr.KafkaStorageError.Code, 7},
	Timeout:              {http.StatusGatewayTimeout, kerr.RequestTimedOut.Code, 7},
	CorruptData:          {http.StatusBadRequest, kerr.CorruptMessage.Code, 2},
	UnsupportedVersion:   {http.StatusBadRequest, kerr.UnsupportedVersion.Code, 2},
	DuplicateSequence:    {http.StatusConflict, kerr.DuplicateSequenceNumber.Code, 4},
	OutOfOrderSequence:   {http.StatusConflict, kerr.OutOfOrderSequenceNumber.Code, 4},
	UnknownProducer:      {http.StatusConflict, kerr.UnknownProducerID.Code, 4},
	InvalidProducerEpoch: {http.StatusConflict, kerr.InvalidProducerEpoch.Code, 4},
	IllegalGeneration:    {http.StatusConflict, kerr.IllegalGeneration.Code, 4},
	UnknownMember:        {http.StatusConflict, kerr.UnknownMemberID.Code, 4},
	RebalanceInProgress:  {http.StatusConflict, kerr.RebalanceInProgress.Code, 4},
	QuotaExceeded:        {http.StatusForbidden, kerr.PolicyViolation.Code, 8},
	Mismatch:             {http.StatusConflict, kerr.InvalidRequest.Code, 1},
	Internal:             {http.StatusInternalServerError, kerr.UnknownServerError.Code, 1},
	NotLeader:            {http.StatusMisdirectedRequest, kerr.NotLeaderForPartition.Code, 7},
	PreconditionFailed:   {http.StatusPreconditionFailed, kerr.InvalidRequest.Code, 4},

	NotCoordinator:          {http.StatusMisdirectedRequest, kerr.NotCoordinator.Code, 7},
	CoordinatorNotAvailable: {http.StatusServiceUnavailable, kerr.CoordinatorNotAvailable.Code, 7},

	FencedLeaderEpoch:  {http.StatusMisdirectedRequest, kerr.FencedLeaderEpoch.Code, 7},
	UnknownLeaderEpoch: {http.StatusMisdirectedRequest, kerr.UnknownLeaderEpoch.Code, 7},
}

// Error is a user-facing error: a stable code, a message for people, and an optional cause.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the code and a formatted message. A %w verb in format wraps the cause.
func New(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// HTTPStatus maps err to the HTTP status a client sees.
func HTTPStatus(err error) int { return lookup(err).http }

// KafkaCode maps err to the Kafka protocol error code; 0 for nil.
func KafkaCode(err error) int16 {
	if err == nil {
		return 0
	}
	return lookup(err).kafka
}

// ExitCode maps err to the CLI exit code; 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return lookup(err).exit
}

// FromHTTP rebuilds an error from an HTTP error body's code and message (used by the Go client).
func FromHTTP(code, msg string) *Error {
	c := Code(code)
	if _, ok := catalogue[c]; !ok {
		c = Internal
	}
	return &Error{Code: c, Msg: msg}
}

// FromBody rebuilds an error from a JSON error body {"error":{"code":…,"message":…}} as the
// HTTP API and the region-to-region API write it; ok is false when data is not one.
func FromBody(data []byte) (err *Error, ok bool) {
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
		return nil, false
	}
	return FromHTTP(eb.Error.Code, eb.Error.Message), true
}

// Codes lists the catalogue, for documentation and tests.
func Codes() []Code {
	out := make([]Code, 0, len(catalogue))
	for c := range catalogue {
		out = append(out, c)
	}
	return out
}

func lookup(err error) info {
	if i, ok := catalogue[CodeOf(err)]; ok {
		return i
	}
	return catalogue[Internal]
}
