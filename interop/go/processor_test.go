package interop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// memStore is an in-memory azeventhubs.CheckpointStore, modelled on the SDK's own test store
// (inmemory_checkpoint_store_test.go): ownership is claimed by ETag, checkpoints are kept per
// partition.
type memStore struct {
	mu          sync.Mutex
	etag        int
	checkpoints map[string]azeventhubs.Checkpoint
	ownerships  map[string]azeventhubs.Ownership
}

func newMemStore() *memStore {
	return &memStore{checkpoints: map[string]azeventhubs.Checkpoint{}, ownerships: map[string]azeventhubs.Ownership{}}
}

func storeKey(ns, hub, group, partition string) string {
	return strings.Join([]string{ns, hub, strings.ToLower(group), partition}, "/")
}

func (s *memStore) ClaimOwnership(_ context.Context, claims []azeventhubs.Ownership, _ *azeventhubs.ClaimOwnershipOptions) ([]azeventhubs.Ownership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var won []azeventhubs.Ownership
	for _, o := range claims {
		k := storeKey(o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup, o.PartitionID)
		if cur, ok := s.ownerships[k]; ok && (o.ETag == nil || *o.ETag != *cur.ETag) {
			continue // someone claimed it since this claimant looked
		}
		s.etag++
		o.ETag = ptr(azcore.ETag(strconv.Itoa(s.etag)))
		o.LastModifiedTime = time.Now().UTC()
		s.ownerships[k] = o
		won = append(won, o)
	}
	return won, nil
}

func (s *memStore) ListCheckpoints(_ context.Context, ns, hub, group string, _ *azeventhubs.ListCheckpointsOptions) ([]azeventhubs.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []azeventhubs.Checkpoint
	for k, c := range s.checkpoints {
		if strings.HasPrefix(k, storeKey(ns, hub, group, "")) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) ListOwnership(_ context.Context, ns, hub, group string, _ *azeventhubs.ListOwnershipOptions) ([]azeventhubs.Ownership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []azeventhubs.Ownership
	for k, o := range s.ownerships {
		if strings.HasPrefix(k, storeKey(ns, hub, group, "")) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (s *memStore) SetCheckpoint(_ context.Context, c azeventhubs.Checkpoint, _ *azeventhubs.SetCheckpointOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpoints[storeKey(c.FullyQualifiedNamespace, c.EventHubName, c.ConsumerGroup, c.PartitionID)] = c
	return nil
}

// checkpointSeqs are the checkpointed sequence numbers by partition.
func (s *memStore) checkpointSeqs() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, c := range s.checkpoints {
		out[c.PartitionID] = *c.SequenceNumber
	}
	return out
}

// owners are the owner ids that hold a partition, by partition.
func (s *memStore) owners() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, o := range s.ownerships {
		if o.OwnerID != "" {
			out[o.PartitionID] = o.OwnerID
		}
	}
	return out
}

// processed records which processor handled which (partition, sequence number), and the first
// sequence number each processor saw per partition.
type processed struct {
	mu    sync.Mutex
	seen  map[string]map[int64]int // partition → sequence number → times processed
	first map[int]map[string]int64 // processor → partition → first sequence number
}

func (p *processed) add(proc int, partition string, evs []*azeventhubs.ReceivedEventData) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[partition] == nil {
		p.seen[partition] = map[int64]int{}
	}
	if p.first[proc] == nil {
		p.first[proc] = map[string]int64{}
	}
	for _, ev := range evs {
		p.seen[partition][ev.SequenceNumber]++
		if _, ok := p.first[proc][partition]; !ok {
			p.first[proc][partition] = ev.SequenceNumber
		}
	}
}

// complete reports whether every partition of parts has sequence numbers 0..n-1.
func (p *processed) complete(parts int, n int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range parts {
		for seq := range n {
			if p.seen[strconv.Itoa(i)][seq] == 0 {
				return false
			}
		}
	}
	return true
}

// runProcessor runs processor proc over its own connection until ctx ends: each partition it
// is given is read in batches of up to 100 events, each batch checkpointed. The channel is
// closed once the processor and its partition readers have stopped.
func runProcessor(t *testing.T, ctx context.Context, e env, hub string, store *memStore, proc int, rec *processed, wg *sync.WaitGroup) <-chan struct{} {
	cc, err := azeventhubs.NewConsumerClientFromConnectionString(e.connString(), hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := azeventhubs.NewProcessor(cc, store, &azeventhubs.ProcessorOptions{
		UpdateInterval: 500 * time.Millisecond, PartitionExpirationDuration: 20 * time.Second,
		StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: ptr(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		defer cc.Close(context.Background())
		var parts sync.WaitGroup
		defer parts.Wait()
		parts.Go(func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("processor %d: Run: %v", proc, err)
			}
		})
		for {
			ppc := p.NextPartitionClient(ctx)
			if ppc == nil {
				return
			}
			parts.Go(func() {
				defer ppc.Close(context.Background())
				for ctx.Err() == nil {
					rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					evs, err := ppc.ReceiveEvents(rctx, 100, nil)
					cancel()
					if ctx.Err() != nil {
						return // stopping: what came with the cancellation is left to the next owner
					}
					if len(evs) > 0 {
						rec.add(proc, ppc.PartitionID(), evs)
						if err := ppc.UpdateCheckpoint(ctx, evs[len(evs)-1], nil); err != nil && ctx.Err() == nil {
							t.Errorf("processor %d: UpdateCheckpoint: %v", proc, err)
						}
					}
					if err != nil && !isDeadline(err) {
						return // ownership lost to another processor, or closing
					}
				}
			})
		}
	})
	return done
}

// Three Processors share an 8-partition hub through a checkpoint store: every event is
// processed at least once; when one stops the others take its partitions; a Processor started
// later resumes right after the checkpoints.
func TestAMQPProcessor(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	const parts = 8
	hub := e.newHub(t, parts)
	p := e.producer(t, hub)
	sendRound := func(round string, n int) {
		for i := range parts {
			mustSend(t, p, bodies(fmt.Sprintf("%s-p%d", round, i), n), &azeventhubs.EventDataBatchOptions{PartitionID: ptr(strconv.Itoa(i))})
		}
	}
	sendRound("r1", 50)
	store := newMemStore()
	rec := &processed{seen: map[string]map[int64]int{}, first: map[int]map[string]int64{}}
	ctx, cancelAll := context.WithTimeout(context.Background(), 4*time.Minute)
	var wg sync.WaitGroup
	defer func() { cancelAll(); wg.Wait() }()
	cancels := make([]context.CancelFunc, 3)
	dones := make([]<-chan struct{}, 3)
	for i := range 3 {
		pctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		dones[i] = runProcessor(t, pctx, e, hub, store, i, rec, &wg)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v; owners %v, checkpoints %v", what, ctx.Err(), store.owners(), store.checkpointSeqs())
			}
			time.Sleep(100 * time.Millisecond) // polling, with the deadline above
		}
	}
	checkpointedTo := func(seq int64) func() bool {
		return func() bool {
			cps := store.checkpointSeqs()
			for i := range parts {
				if cps[strconv.Itoa(i)] != seq {
					return false
				}
			}
			return true
		}
	}
	waitFor("400 events processed and checkpointed", func() bool { return rec.complete(parts, 50) && checkpointedTo(49)() })
	waitFor("the partitions shared by 3 processors", func() bool {
		count := map[string]int{}
		for _, o := range store.owners() {
			count[o]++
		}
		return len(count) == 3 && len(store.owners()) == parts
	})

	// Processor 0 stops (it gives its partitions up); the other two take them over.
	cancels[0]()
	sendRound("r2", 50)
	waitFor("800 events processed and checkpointed by the other two", func() bool { return rec.complete(parts, 100) && checkpointedTo(99)() })
	for i := range 3 {
		cancels[i]()
		<-dones[i]
	}

	// A new processor resumes after the checkpoints: its first event in each partition is 100.
	sendRound("r3", 10)
	runProcessor(t, ctx, e, hub, store, 3, rec, &wg)
	waitFor("the new round processed by the new processor", func() bool { return rec.complete(parts, 110) && checkpointedTo(109)() })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := range parts {
		if first, ok := rec.first[3][strconv.Itoa(i)]; !ok || first != 100 {
			t.Errorf("the restarted processor began partition %d at sequence number %d (seen: %v), want 100, right after the checkpoint", i, first, ok)
		}
	}
}
