package eventhubs

import (
	"errors"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// AMQP error conditions the Event Hubs SDKs act on (Go internal/errors.go
// amqpConditionsToRecoveryKind, JS core-amqp errors.ts): fatal ones end the client's
// operation, the server-busy and timeout ones are retried, stolen means ownership was lost.
const (
	condNotFound         codec.Symbol = "amqp:not-found"
	condUnauthorized     codec.Symbol = "amqp:unauthorized-access"
	condNotAllowed       codec.Symbol = "amqp:not-allowed"
	condNotImplemented   codec.Symbol = "amqp:not-implemented"
	condInvalidField     codec.Symbol = "amqp:invalid-field"
	condDecodeError      codec.Symbol = "amqp:decode-error"
	condResourceLimit    codec.Symbol = "amqp:resource-limit-exceeded"
	condInternal         codec.Symbol = "amqp:internal-error"
	condMessageSize      codec.Symbol = "amqp:link:message-size-exceeded"
	condStolen           codec.Symbol = "amqp:link:stolen"
	condDetachForced     codec.Symbol = "amqp:link:detach-forced"
	condArgumentOutRange codec.Symbol = "com.microsoft:argument-out-of-range"
	condServerBusy       codec.Symbol = "com.microsoft:server-busy"
	condTimeout          codec.Symbol = "com.microsoft:timeout"
	condArgument         codec.Symbol = "com.microsoft:argument-error"
)

// amqpError maps a broker error to the AMQP error the SDKs expect for it, with the broker's
// message (which says what was wrong and what to do) as the description.
func amqpError(err error) *frames.Error {
	if err == nil {
		return nil
	}
	var fe *frames.Error
	if errors.As(err, &fe) {
		return fe
	}
	var ahead *ErrPositionAhead
	if errors.As(err, &ahead) {
		return &frames.Error{Condition: condArgumentOutRange, Description: err.Error()}
	}
	return &frames.Error{Condition: conditionOf(errcode.CodeOf(err)), Description: err.Error()}
}

// conditionOf is the AMQP condition of an errcode code.
func conditionOf(c errcode.Code) codec.Symbol {
	switch c {
	case errcode.NotFound:
		return condNotFound
	case errcode.PartitionNotFound, errcode.OffsetOutOfRange:
		return condArgumentOutRange
	case errcode.InvalidArgument, errcode.CorruptData:
		return condArgument
	case errcode.Unauthorized, errcode.Forbidden:
		return condUnauthorized
	case errcode.MessageTooLarge:
		return condMessageSize
	case errcode.ReadOnly, errcode.AliasNotActive, errcode.UnsupportedVersion, errcode.Conflict:
		return condNotAllowed
	case errcode.QuotaExceeded:
		return condResourceLimit
	case errcode.Unavailable, errcode.NotLeader, errcode.CoordinatorNotAvailable,
		errcode.NotCoordinator, errcode.FencedLeaderEpoch, errcode.UnknownLeaderEpoch:
		return condServerBusy
	case errcode.Timeout:
		return condTimeout
	}
	return condInternal
}

// errorf builds an AMQP error with a formatted description.
func errorf(cond codec.Symbol, format string, args ...any) *frames.Error {
	return &frames.Error{Condition: cond, Description: fmt.Sprintf(format, args...)}
}
