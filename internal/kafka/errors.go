package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// errHidden answers for a hub the connection string does not cover; it reads as unknown,
// as Event Hubs does, so a scoped credential learns nothing of other hubs.
var errHidden = errors.New("hub not visible to this credential")

// codeMsg maps a broker error to a Kafka error code and a message for versions that carry
// one, and counts it in the request-error metric.
func (c *conn) codeMsg(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	if errors.Is(err, errHidden) {
		c.s.opts.Broker.RequestError("kafka", string(errcode.NotFound))
		return kerr.UnknownTopicOrPartition.Code, nil
	}
	c.s.opts.Broker.RequestError("kafka", string(errcode.CodeOf(err)))
	msg := err.Error()
	return errcode.KafkaCode(err), &msg
}
