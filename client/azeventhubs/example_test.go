package tandemcheckpoints_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
	tandemcheckpoints "github.com/tandem-streaming/tandem/client/azeventhubs"
)

// A Processor whose ownership and checkpoints live in Tandem: the consumer client speaks
// AMQP to Tandem, the checkpoint store its HTTP API, both with the same connection string.
func ExampleNewCheckpointStore() {
	const connStr = "Endpoint=sb://localhost:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=<key>;UseDevelopmentEmulator=true"
	consumer, err := azeventhubs.NewConsumerClientFromConnectionString(connStr, "orders", azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(context.Background())

	tc, err := client.New("http://127.0.0.1:8080", client.WithConnectionString(connStr))
	if err != nil {
		log.Fatal(err)
	}
	store, err := tandemcheckpoints.NewCheckpointStore(tc, "default")
	if err != nil {
		log.Fatal(err)
	}
	processor, err := azeventhubs.NewProcessor(consumer, store, &azeventhubs.ProcessorOptions{
		StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: ptr(true)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for pc := processor.NextPartitionClient(context.Background()); pc != nil; pc = processor.NextPartitionClient(context.Background()) {
			go func() {
				defer pc.Close(context.Background())
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					events, err := pc.ReceiveEvents(ctx, 100, nil)
					cancel()
					var ehErr *azeventhubs.Error
					if errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeOwnershipLost {
						return // another processor took the partition
					}
					if len(events) > 0 {
						// … process the events, then remember where this partition stands:
						_ = pc.UpdateCheckpoint(context.Background(), events[len(events)-1], nil)
					}
				}
			}()
		}
	}()
	_ = processor.Run(context.Background()) // until its context ends
}
