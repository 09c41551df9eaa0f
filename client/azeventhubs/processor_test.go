package tandemcheckpoints_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
	tandemcheckpoints "github.com/tandem-streaming/tandem/client/azeventhubs"
)

// procEnv is a tandem serve with an AMQP listener, namespace procNS and its root keys.
type procEnv struct {
	n       *node
	admin   *client.Client
	connStr string
}

const procNS = "processors"

func startProcEnv(t *testing.T, dir string, create bool) procEnv {
	t.Helper()
	n := startNode(t, dir)
	if n.amqp == "" {
		t.Fatalf("the ready line names no amqp= listener")
	}
	key, err := os.ReadFile(filepath.Join(dir, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(n.httpURL, client.WithAdminKey(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if create {
		if _, err := admin.CreateNamespace(ctx, procNS, client.NamespaceOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CreateHub(ctx, procNS, hub, client.HubOptions{Partitions: 8}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := admin.ListKeys(ctx, procNS, "", "RootManageSharedAccessKey")
	if err != nil {
		t.Fatal(err)
	}
	return procEnv{n: n, admin: admin,
		connStr: fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true", n.amqp, keys.KeyName, keys.PrimaryKey)}
}

// seen records the sequence numbers processed per partition and each processor's first.
type seen struct {
	mu    sync.Mutex
	seqs  map[string]map[int64]bool
	first map[int]map[string]int64
}

func (s *seen) add(proc int, p string, evs []*azeventhubs.ReceivedEventData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seqs[p] == nil {
		s.seqs[p] = map[int64]bool{}
	}
	if s.first[proc] == nil {
		s.first[proc] = map[string]int64{}
	}
	for _, ev := range evs {
		s.seqs[p][ev.SequenceNumber] = true
		if _, ok := s.first[proc][p]; !ok {
			s.first[proc][p] = ev.SequenceNumber
		}
	}
}

func (s *seen) complete(parts int, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range parts {
		for seq := range n {
			if !s.seqs[strconv.Itoa(p)][seq] {
				return false
			}
		}
	}
	return true
}

// runProcessor runs a Processor with its own consumer client and its own Tandem checkpoint
// store until ctx ends; done is closed once it and its partition readers stopped.
func runProcessor(t *testing.T, ctx context.Context, e procEnv, proc int, rec *seen) (done <-chan struct{}) {
	cc, err := azeventhubs.NewConsumerClientFromConnectionString(e.connStr, hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tandemcheckpoints.NewCheckpointStore(e.admin, procNS)
	if err != nil {
		t.Fatal(err)
	}
	p, err := azeventhubs.NewProcessor(cc, store, &azeventhubs.ProcessorOptions{
		UpdateInterval: 500 * time.Millisecond, PartitionExpirationDuration: 20 * time.Second,
		StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: ptr(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer cc.Close(context.Background())
		var parts sync.WaitGroup
		defer parts.Wait()
		parts.Add(1)
		go func() {
			defer parts.Done()
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("processor %d: Run: %v", proc, err)
			}
		}()
		for {
			ppc := p.NextPartitionClient(ctx)
			if ppc == nil {
				return
			}
			parts.Add(1)
			go func() {
				defer parts.Done()
				defer ppc.Close(context.Background())
				for ctx.Err() == nil {
					rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					evs, err := ppc.ReceiveEvents(rctx, 100, nil)
					cancel()
					if ctx.Err() != nil {
						return
					}
					if len(evs) > 0 {
						rec.add(proc, ppc.PartitionID(), evs)
						if err := ppc.UpdateCheckpoint(ctx, evs[len(evs)-1], nil); err != nil && ctx.Err() == nil {
							t.Errorf("processor %d: UpdateCheckpoint: %v", proc, err)
						}
					}
					if err != nil && !errors.Is(err, context.DeadlineExceeded) {
						return // ownership lost to another processor
					}
				}
			}()
		}
	}()
	return ch
}

// TestProcessorWithTandemStore runs the SDK's Processor on this store: 3 processors share 8
// partitions, one stops and the others take its partitions over, every event is processed,
// and after tandem serve restarts a new processor resumes right after the checkpoints, which
// Tandem's own view (the next offset to read) agrees with. It needs tandem serve's AMQP
// listener (--amqp-addr) and skips without it.
func TestProcessorWithTandemStore(t *testing.T) {
	buildTandem(t)
	if !supportsFlag(t, "--amqp-addr") {
		t.Skip("tandem serve of this tree has no AMQP listener (--amqp-addr); the store's contract is tested by TestCheckpointStoreContract")
	}
	const parts = 8
	dir := t.TempDir()
	e := startProcEnv(t, dir, true)
	send := func(e procEnv, round string, n int) {
		t.Helper()
		prod, err := azeventhubs.NewProducerClientFromConnectionString(e.connStr, hub, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for p := range parts {
			b, err := prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: ptr(strconv.Itoa(p))})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := b.AddEventData(&azeventhubs.EventData{Body: []byte(fmt.Sprintf("%s-%d-%d", round, p, i))}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := prod.SendEventDataBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	store, err := tandemcheckpoints.NewCheckpointStore(e.admin, procNS)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancelAll := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelAll()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			time.Sleep(200 * time.Millisecond) // polling, bounded by ctx
		}
	}
	checkpointedTo := func(s *tandemcheckpoints.CheckpointStore, seq int64) func() bool {
		return func() bool {
			cps, err := s.ListCheckpoints(ctx, "localhost", hub, azeventhubs.DefaultConsumerGroup, nil)
			if err != nil || len(cps) != parts {
				return false
			}
			for _, c := range cps {
				if *c.SequenceNumber != seq || c.Offset == nil || *c.Offset != strconv.FormatInt(seq, 10) {
					return false
				}
			}
			return true
		}
	}
	owners := func() map[string]int {
		list, err := store.ListOwnership(ctx, "localhost", hub, azeventhubs.DefaultConsumerGroup, nil)
		if err != nil {
			return nil
		}
		count := map[string]int{}
		for _, o := range list {
			if o.OwnerID != "" {
				count[o.OwnerID]++
			}
		}
		return count
	}

	send(e, "r1", 50)
	rec := &seen{seqs: map[string]map[int64]bool{}, first: map[int]map[string]int64{}}
	cancels := make([]context.CancelFunc, 3)
	dones := make([]<-chan struct{}, 3)
	for i := range 3 {
		pctx, cancel := context.WithCancel(ctx)
		cancels[i], dones[i] = cancel, runProcessor(t, pctx, e, i, rec)
	}
	defer func() {
		for i := range 3 {
			cancels[i]()
			<-dones[i]
		}
	}()
	waitFor("400 events processed and checkpointed", func() bool { return rec.complete(parts, 50) && checkpointedTo(store, 49)() })
	waitFor("8 partitions shared by 3 processors", func() bool {
		c, total := owners(), 0
		for _, n := range c {
			total += n
		}
		return len(c) == 3 && total == parts
	})

	// Processor 0 stops (relinquishing its partitions); the other two take them over.
	cancels[0]()
	<-dones[0]
	send(e, "r2", 50)
	waitFor("800 events processed and checkpointed by the other two", func() bool { return rec.complete(parts, 100) && checkpointedTo(store, 99)() })
	for i := range 3 {
		cancels[i]()
		<-dones[i]
	}

	// tandem serve restarts; a new processor resumes right after the checkpoints.
	e.n.stop()
	e = startProcEnv(t, dir, false)
	send(e, "r3", 10)
	pctx, cancel := context.WithCancel(ctx)
	done := runProcessor(t, pctx, e, 3, rec)
	defer func() { cancel(); <-done }()
	store, _ = tandemcheckpoints.NewCheckpointStore(e.admin, procNS)
	waitFor("the new round processed after the restart", func() bool { return rec.complete(parts, 110) && checkpointedTo(store, 109)() })
	rec.mu.Lock()
	for p := range parts {
		if first, ok := rec.first[3][strconv.Itoa(p)]; !ok || first != 100 {
			t.Errorf("the processor started after the restart began partition %d at sequence number %d (%v), want 100, right after the checkpoint", p, first, ok)
		}
	}
	rec.mu.Unlock()
	// Tandem's own checkpoints (what a Kafka consumer of the group resumes from): offset 110.
	cps, err := e.admin.GetCheckpoints(ctx, procNS, hub, azeventhubs.DefaultConsumerGroup)
	if err != nil || len(cps) != parts {
		t.Fatalf("Tandem's checkpoints: %+v, %v", cps, err)
	}
	for _, c := range cps {
		if c.Offset != 110 {
			t.Fatalf("Tandem's checkpoint of partition %d is offset %d, want 110 (the next event to read)", c.PartitionID, c.Offset)
		}
	}
}
