package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Azurite's well-known development account (the same in every Azurite and in Microsoft's docs).
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azurite is one `azurite-blob` process (interop/azurite, pinned in its package-lock.json) on a
// free loopback port, with its data in a directory of the test run.
type azurite struct {
	addr string // host:port of the blob endpoint
	log  string
}

// azuriteListenRe finds the address in Azurite's "Azurite Blob service successfully listens on
// http://127.0.0.1:PORT" line, which it prints even with --silent.
var azuriteListenRe = regexp.MustCompile(`successfully listens on https?://(\S+)`)

// startAzurite starts azurite-blob for t and stops it (only this process) when t ends. It skips
// t when node or interop/azurite/node_modules/.bin/azurite-blob is missing (fails it when
// CI=true).
func startAzurite(t *testing.T) *azurite {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "azurite", "node_modules", ".bin", "azurite-blob"))
	if err != nil {
		t.Fatal(err)
	}
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf // in CI a missing Azurite is a failure, not a silent skip
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node is not installed, so Azurite cannot run: the Blob checkpoint store test did not run (apt-get install nodejs npm; scripts/test installs them)")
	}
	if _, err := os.Stat(bin); err != nil {
		skip("Azurite is not installed (%v): the Blob checkpoint store test did not run; run `npm ci` in interop/azurite (scripts/test does)", err)
	}
	dir := filepath.Join(tmpRoot, "azurite-"+hubName(t))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &azurite{log: dir + ".log"}
	logf, err := os.Create(a.log)
	if err != nil {
		t.Fatal(err)
	}
	// Port 0: Azurite binds a free port and prints it in its "listens on" line.
	cmd := exec.Command(bin, "--location", dir, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--skipApiVersionCheck", "--silent")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	addrc, closed, exited := make(chan string, 1), make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		found, sawClosed := false, false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := azuriteListenRe.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addrc <- m[1]
			}
			if strings.Contains(sc.Text(), "successfully closed") && !sawClosed {
				sawClosed = true
				close(closed)
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	// Azurite closes its server on SIGTERM but does not exit while clients keep idle
	// connections open: once it says it has closed (its data is written), it is killed.
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Logf("azurite-blob did not close within 20s of SIGTERM: killed")
		}
		cmd.Process.Kill()
		<-exited
	})
	select {
	case a.addr = <-addrc:
	case <-exited:
		t.Fatalf("azurite-blob exited before it listened; log %s:\n%s", a.log, readTail(a.log, 20))
	case <-time.After(90 * time.Second):
		t.Fatalf("azurite-blob did not listen within 90s; log %s:\n%s", a.log, readTail(a.log, 20))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", a.log, readTail(a.log, 20))
		}
	})
	return a
}

// readTail is the last lines of a file.
func readTail(path string, lines int) string {
	b, _ := os.ReadFile(path)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// container is a new client of container name in Azurite, as an application would make one
// from Azurite's connection string.
func (a *azurite) container(t testing.TB, name string) *container.Client {
	t.Helper()
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;",
		azuriteAccount, azuriteKey, a.addr, azuriteAccount)
	cc, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		t.Fatalf("container.NewClientFromConnectionString: %v", err)
	}
	return cc
}

// blobState is what the Blob checkpoint store keeps for one hub and consumer group, read back
// from Azurite by listing the container (not through the store).
type blobState struct {
	checkpoints map[string]int64  // partition → checkpointed sequence number
	owners      map[string]string // partition → owner id ("" once relinquished)
	names       []string
}

// listBlobs lists the blobs under prefix <namespace>/<hub>/<group>/ with their metadata: the
// store names them …/checkpoint/<partition> (metadata sequencenumber, offset) and
// …/ownership/<partition> (metadata ownerid).
func listBlobs(ctx context.Context, cc *container.Client, prefix string) (blobState, error) {
	st := blobState{checkpoints: map[string]int64{}, owners: map[string]string{}}
	pager := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix, Include: container.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return st, fmt.Errorf("listing the checkpoint container: %w", err)
		}
		for _, b := range page.Segment.BlobItems {
			name := *b.Name
			st.names = append(st.names, name)
			meta := map[string]string{}
			for k, v := range b.Metadata {
				if v != nil {
					meta[strings.ToLower(k)] = *v
				}
			}
			kind, partition, _ := strings.Cut(strings.TrimPrefix(name, prefix), "/")
			switch kind {
			case "checkpoint":
				seq, err := strconv.ParseInt(meta["sequencenumber"], 10, 64)
				if err != nil {
					return st, fmt.Errorf("checkpoint blob %s: metadata sequencenumber %q: %v", name, meta["sequencenumber"], err)
				}
				// The processor resumes from the offset (SDK v2): in Tandem it is the sequence
				// number as a decimal string.
				if meta["offset"] != strconv.FormatInt(seq, 10) {
					return st, fmt.Errorf("checkpoint blob %s: metadata offset %q, want %q (Tandem's offset is the sequence number)", name, meta["offset"], strconv.FormatInt(seq, 10))
				}
				st.checkpoints[partition] = seq
			case "ownership":
				st.owners[partition] = meta["ownerid"]
			default:
				return st, fmt.Errorf("blob %s is neither a checkpoint nor an ownership", name)
			}
		}
	}
	return st, nil
}

// runBlobProcessor runs a Processor with its own ConsumerClient (instance id = owner id) and its
// own Blob checkpoint store over container client cc, until ctx ends: each partition it is given
// is read in batches of up to 100 events, each batch recorded in rec and checkpointed. The
// channel is closed once the processor and its partition readers have stopped.
func runBlobProcessor(t *testing.T, ctx context.Context, e env, hub string, cc *container.Client, proc int, rec *processed, wg *sync.WaitGroup) <-chan struct{} {
	store, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		t.Fatalf("checkpoints.NewBlobStore: %v", err)
	}
	client, err := azeventhubs.NewConsumerClientFromConnectionString(e.connString(), hub, azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{InstanceID: blobOwner(proc)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := azeventhubs.NewProcessor(client, store, &azeventhubs.ProcessorOptions{
		UpdateInterval: 500 * time.Millisecond, PartitionExpirationDuration: 20 * time.Second,
		StartPositions: azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: ptr(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		defer client.Close(context.Background())
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
							t.Errorf("processor %d: UpdateCheckpoint (partition %s) into Azurite: %v", proc, ppc.PartitionID(), err)
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

func blobOwner(proc int) string { return fmt.Sprintf("blob-processor-%d", proc) }

// Two Processors with the Go SDK's own Blob checkpoint store (checkpoints.BlobStore, on Azurite)
// share a 4-partition hub: every event is processed at least once and the checkpoints and
// ownerships are blobs in Azurite; when one Processor closes, the other takes its partitions
// over; a new Processor resumes right after the checkpoints.
func TestAMQPProcessorBlobStore(t *testing.T) {
	t.Parallel()
	began := time.Now()
	az := startAzurite(t)
	t.Logf("azurite-blob listens on %s after %v", az.addr, time.Since(began).Round(time.Millisecond))
	e := sharedEnv(t)
	const parts, perRound = 4, 25
	hub := e.newHub(t, parts)
	ctx, cancelAll := context.WithTimeout(context.Background(), 3*time.Minute)
	var wg sync.WaitGroup
	defer func() { cancelAll(); wg.Wait() }()

	admin := az.container(t, "checkpoints")
	if _, err := admin.Create(ctx, nil); err != nil {
		t.Fatalf("creating the container in Azurite: %v", err)
	}
	p := e.producer(t, hub)
	sendRound := func(round string, n int) {
		for i := range parts {
			mustSend(t, p, bodies(fmt.Sprintf("%s-p%d", round, i), n), &azeventhubs.EventDataBatchOptions{PartitionID: ptr(strconv.Itoa(i))})
		}
	}
	rec := &processed{seen: map[string]map[int64]int{}, first: map[int]map[string]int64{}}
	// The store's blobs for this hub: the SDK's fully qualified namespace is the host:port of
	// the connection string's endpoint.
	prefix := e.n.addrs().amqp + "/" + hub + "/" + azeventhubs.DefaultConsumerGroup + "/"
	var last blobState
	var listErr error
	waitFor := func(what string, ok func(blobState) bool) {
		t.Helper()
		for {
			st, err := listBlobs(ctx, admin, prefix)
			if err == nil {
				last = st
				if ok(st) {
					t.Logf("%v: %s", time.Since(began).Round(time.Millisecond), what)
					return
				}
			} else if ctx.Err() == nil {
				listErr = err
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v; blobs in Azurite under %s: %v: checkpoints %v, owners %v (a listing error seen: %v)",
					what, ctx.Err(), prefix, last.names, last.checkpoints, last.owners, listErr)
			}
			time.Sleep(200 * time.Millisecond) // polling, with the deadline above
		}
	}
	checkpointedTo := func(st blobState, seq int64) bool {
		for i := range parts {
			if got, ok := st.checkpoints[strconv.Itoa(i)]; !ok || got != seq {
				return false
			}
		}
		return true
	}
	ownedBy := func(st blobState) map[string]int {
		count := map[string]int{}
		for _, o := range st.owners {
			if o != "" {
				count[o]++
			}
		}
		return count
	}

	// Round 1: two processors share the partitions, two each, and checkpoint every event.
	sendRound("r1", perRound)
	cancels, dones := make([]context.CancelFunc, 2), make([]<-chan struct{}, 2)
	for i := range 2 {
		pctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		dones[i] = runBlobProcessor(t, pctx, e, hub, az.container(t, "checkpoints"), i, rec, &wg)
	}
	waitFor("round 1 processed, checkpointed in Azurite and the partitions shared 2 and 2", func(st blobState) bool {
		c := ownedBy(st)
		return rec.complete(parts, perRound) && checkpointedTo(st, perRound-1) &&
			c[blobOwner(0)] == 2 && c[blobOwner(1)] == 2
	})

	// Processor 0 closes (it relinquishes its partitions); processor 1 takes all four over.
	cancels[0]()
	<-dones[0]
	sendRound("r2", perRound)
	waitFor("round 2 processed and checkpointed with processor 1 owning all 4 partitions", func(st blobState) bool {
		return rec.complete(parts, 2*perRound) && checkpointedTo(st, 2*perRound-1) && ownedBy(st)[blobOwner(1)] == parts
	})
	rec.mu.Lock()
	for i := range parts {
		if got := rec.seen[strconv.Itoa(i)]; got[2*perRound-1] == 0 {
			t.Errorf("partition %d: the last event of round 2 was not processed", i)
		}
		if _, ok := rec.first[1][strconv.Itoa(i)]; !ok {
			t.Errorf("processor 1 never processed partition %d: it did not take it over", i)
		}
	}
	rec.mu.Unlock()
	cancels[1]()
	<-dones[1]

	// A new processor, with a new store over a new container client, resumes after the
	// checkpoints it finds in Azurite: its first event in each partition is round 3's first.
	sendRound("r3", 10)
	runBlobProcessor(t, ctx, e, hub, az.container(t, "checkpoints"), 2, rec, &wg)
	waitFor("round 3 processed", func(blobState) bool { return rec.complete(parts, 2*perRound+10) })
	rec.mu.Lock()
	for i := range parts {
		if first, ok := rec.first[2][strconv.Itoa(i)]; !ok || first != 2*perRound {
			t.Errorf("the new processor began partition %d at sequence number %d (any: %v), want %d, right after the checkpoint in Azurite",
				i, first, ok, 2*perRound)
		}
	}
	rec.mu.Unlock()
	waitFor("round 3 checkpointed by the new processor, which owns all 4 partitions", func(st blobState) bool {
		return checkpointedTo(st, 2*perRound+9) && ownedBy(st)[blobOwner(2)] == parts
	})
}
