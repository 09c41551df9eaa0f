package eventhubs

import (
	"fmt"
	"testing"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestAMQPError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want codec.Symbol
	}{
		{errcode.New(errcode.NotFound, "event hub x not found"), condNotFound},
		{errcode.New(errcode.Unauthorized, "bad signature"), condUnauthorized},
		{errcode.New(errcode.Forbidden, "no Send"), condUnauthorized},
		{errcode.New(errcode.MessageTooLarge, "too big"), condMessageSize},
		{errcode.New(errcode.ReadOnly, "namespace ns2 is the secondary of alias a1"), condNotAllowed},
		{errcode.New(errcode.QuotaExceeded, "over quota"), condResourceLimit},
		{errcode.New(errcode.Unavailable, "disk"), condServerBusy},
		{errcode.New(errcode.NotLeader, "node 2 leads"), condServerBusy},
		{errcode.New(errcode.PartitionNotFound, "partition 9"), condArgumentOutRange},
		{errcode.New(errcode.Timeout, "slow"), condTimeout},
		{fmt.Errorf("wrapped: %w", errcode.New(errcode.NotFound, "x")), condNotFound},
		{&ErrPositionAhead{Position: 10, End: 5}, condArgumentOutRange},
		{fmt.Errorf("plain"), condInternal},
	} {
		got := amqpError(tc.err)
		if got.Condition != tc.want || got.Description != tc.err.Error() {
			t.Errorf("amqpError(%v) = %v, want condition %s and the error's text", tc.err, got, tc.want)
		}
	}
	if amqpError(nil) != nil {
		t.Error("amqpError(nil) is not nil")
	}
}
