package interop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// `tandem serve` stops (SIGTERM) and starts again on its data and ports while a producer and a
// consumer run: the producer retries its batch until the node takes it, the consumer resumes
// by sequence number, and it reads every sequence number once, in order, with every event the
// producer had sent acknowledged.
func TestAMQPRestartMidStream(t *testing.T) {
	t.Parallel()
	e := ownEnv(t)
	hub := e.newHub(t, 1)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var acked sync.Map // counters of events whose batch was acknowledged
	var nAcked, nRetries atomic.Int64
	stop, prodDone := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // no goroutine outlives the test, even a failed one
	wg.Go(func() {                         // the producer: batches of 10, each retried until it is taken
		defer close(prodDone)
		for b := 0; ; b++ {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			evs := make([]*azeventhubs.EventData, 10)
			for i := range evs {
				evs[i] = &azeventhubs.EventData{Body: fmt.Appendf(nil, "ev-%d", b*10+i)}
			}
			for ctx.Err() == nil {
				sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
				err := send(sctx, p, evs, nil)
				scancel()
				if err == nil {
					break
				}
				nRetries.Add(1)
				time.Sleep(200 * time.Millisecond) // a pause between retries, not synchronisation
			}
			if ctx.Err() != nil {
				return
			}
			for i := range evs {
				acked.Store(b*10+i, true)
			}
			nAcked.Add(int64(len(evs)))
		}
	})

	var mu sync.Mutex
	var got []*azeventhubs.ReceivedEventData
	var resumes atomic.Int64
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	consumerDone := make(chan struct{})
	wg.Go(func() { // the consumer: from the start, resuming after the last sequence number read
		defer close(consumerDone)
		start := azeventhubs.StartPosition{Earliest: ptr(true)}
		for ctx.Err() == nil {
			pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{StartPosition: start})
			if err != nil {
				t.Errorf("NewPartitionClient: %v", err)
				return
			}
			for ctx.Err() == nil {
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
				evs, err := pc.ReceiveEvents(rctx, 100, nil)
				rcancel()
				mu.Lock()
				got = append(got, evs...)
				if len(got) > 0 {
					start = azeventhubs.StartPosition{SequenceNumber: ptr(got[len(got)-1].SequenceNumber)}
				}
				mu.Unlock()
				if err != nil && !isDeadline(err) && ctx.Err() == nil {
					t.Logf("receive failed (%v); resuming after %d events", err, received())
					resumes.Add(1)
					break
				}
			}
			pc.Close(context.Background())
		}
	})

	waitFor := func(what string, ok func() bool) {
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v (acknowledged %d, received %d)", what, ctx.Err(), nAcked.Load(), received())
			}
			time.Sleep(50 * time.Millisecond) // polling, with the deadline above
		}
	}
	waitFor("100 events read before the restart", func() bool { return received() >= 100 })
	restartAt := time.Now()
	e.n.stop()
	stopped := time.Since(restartAt)
	if err := e.n.start(e.n.addrs()); err != nil {
		t.Fatalf("starting tandem serve again: %v", err)
	}
	t.Logf("SIGTERM to exit %v, start to ready %v", stopped.Round(time.Millisecond), (time.Since(restartAt) - stopped).Round(time.Millisecond))
	atRestart := nAcked.Load()
	waitFor("200 events acknowledged after the restart", func() bool { return nAcked.Load() >= atRestart+200 })
	close(stop)
	<-prodDone
	waitFor("the consumer to read everything", func() bool {
		pp, err := p.GetPartitionProperties(ctx, "0", nil)
		return err == nil && int64(received()) >= pp.LastEnqueuedSequenceNumber+1
	})
	cancel()
	<-consumerDone

	mu.Lock()
	defer mu.Unlock()
	bodies := map[int]bool{}
	for i, ev := range got {
		if ev.SequenceNumber != int64(i) {
			t.Fatalf("event %d read has sequence number %d: a gap or a repeat across the restart", i, ev.SequenceNumber)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(string(ev.Body), "ev-"))
		if err != nil {
			t.Fatalf("event %d: body %q", i, ev.Body)
		}
		bodies[n] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !bodies[k.(int)] {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged events were not read back", missing)
	}
	t.Logf("%d events read, %d acknowledged, %d send retries, %d consumer resumes", len(got), nAcked.Load(), nRetries.Load(), resumes.Load())
}
