// Package dualwrite is the producer side of geo-redundant jobs: a Writer sends every event to
// the input event hub of each region (two, usually) with a stable event id and the producer's
// time, so identical jobs in the regions compute identical outputs. What a region cannot take
// (it is down, or cut off) goes to that region's spool on local disk (internal/spool, bounded)
// and is replayed in order when the region answers again; until its spool is empty, a region's
// new events queue behind it, so every region sees each partition's events in the same order.
// The Writer also sends a heartbeat to every partition each Heartbeat interval, which is how a
// dual-write job input advances idle partitions the same way in both regions.
//
// A retry or a replay can deliver an event twice to one region; the job input drops the repeat
// by its event id (job.EventIDProperty). Events without a partition key are keyed by their id,
// so an event lands in the same partition in every region (their hubs must have the same
// partition count, which Open checks).
package dualwrite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/spool"
)

// Region is one region's input event hub and the client that reaches it.
type Region struct {
	Name      string
	Client    *client.Client
	Namespace string
	Hub       string
}

// Options configure a Writer.
type Options struct {
	Regions       []Region
	SpoolDir      string        // required: each region's spool is SpoolDir/<region name>
	SpoolMaxBytes int64         // bound of each region's spool; 0 = 1 GiB
	Heartbeat     time.Duration // interval of partition heartbeats; 0 = 1 s, negative = none
	RetryInterval time.Duration // how often a down region is tried again; 0 = 1 s
	SendTimeout   time.Duration // one send request to one region; 0 = 10 s
	OnNotice      func(Notice)  // optional: regions going down, replaying, back up
	Now           func() time.Time
}

// Event is one event to dual-write. ID is its stable id; empty = the Writer makes one
// (unique for the Writer's lifetime: a random producer id and a sequence number).
type Event struct {
	ID           string
	Body         []byte
	PartitionKey string
	Properties   map[string]string
}

// Notice is a change in a region's state.
type Notice struct {
	Time   time.Time
	Region string
	Kind   string // "down", "up" (its spool has been replayed), "replay-error"
	Detail string
}

// Result says where a Send's events went.
type Result struct {
	IDs     []string
	Sent    []string // regions that acknowledged the events
	Spooled []string // regions whose spool holds them, to be replayed
}

// RegionStatus is a region as the Writer sees it.
type RegionStatus struct {
	Name           string    `json:"name"`
	Up             bool      `json:"up"`             // sending directly (its spool is empty)
	SpooledRecords int64     `json:"spooledRecords"` // events and heartbeats waiting for the region
	SpooledBytes   int64     `json:"spooledBytes"`
	SentEvents     int64     `json:"sentEvents"` // directly or by replay, heartbeats excluded
	Replayed       int64     `json:"replayedEvents"`
	DownSince      time.Time `json:"downSince,omitzero"`
	LastError      string    `json:"lastError,omitempty"`
}

// Writer dual-writes events. Send is safe for concurrent use; calls are serialised, which is
// what keeps the regions' partitions in the same order.
type Writer struct {
	o             Options
	producer      string
	partitions    int32
	maxEventBytes int
	regions       []*region
	cancel        context.CancelFunc
	wg            sync.WaitGroup

	mu struct {
		sync.Mutex // held for a whole delivery: the order of deliveries is the order in every region
		seq        uint64
		last       int64 // the last produced time given
		closed     bool
	}
}

type region struct {
	Region
	spool  *spool.Spool
	direct atomic.Bool // events go straight to the region; changed only under Writer.mu
	wake   chan struct{}

	mu struct {
		sync.Mutex
		sent, replayed int64
		downSince      time.Time
		lastErr        string
	}
}

// Open checks the regions' event hubs, opens the spools (a spool left by an earlier Writer is
// replayed first) and starts the replay and heartbeat goroutines.
func Open(ctx context.Context, o Options) (*Writer, error) {
	if len(o.Regions) < 2 {
		return nil, errcode.New(errcode.InvalidArgument, "dual-write needs two regions or more, got %d; name them with --regions A,B", len(o.Regions))
	}
	if o.SpoolDir == "" {
		return nil, errcode.New(errcode.InvalidArgument, "dual-write needs a spool directory for the events of an unreachable region; set --spool DIR")
	}
	o.Heartbeat = orDefault(o.Heartbeat, time.Second)
	o.RetryInterval = orDefault(o.RetryInterval, time.Second)
	o.SendTimeout = orDefault(o.SendTimeout, 10*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Writer{o: o, producer: randomID()}
	if err := w.checkHubs(ctx); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, reg := range o.Regions {
		if reg.Name == "" || seen[reg.Name] || reg.Client == nil {
			w.closeSpools()
			return nil, errcode.New(errcode.InvalidArgument, "dual-write regions need distinct names and a client each (region %q)", reg.Name)
		}
		seen[reg.Name] = true
		sp, err := spool.Open(filepath.Join(o.SpoolDir, reg.Name), spool.Options{MaxBytes: o.SpoolMaxBytes})
		if err != nil {
			w.closeSpools()
			return nil, fmt.Errorf("region %s: %w", reg.Name, err)
		}
		r := &region{Region: reg, spool: sp, wake: make(chan struct{}, 1)}
		r.direct.Store(sp.Len() == 0)
		w.regions = append(w.regions, r)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, r := range w.regions {
		w.wg.Add(1)
		go w.replayLoop(runCtx, r)
	}
	if o.Heartbeat > 0 {
		w.wg.Add(1)
		go w.heartbeatLoop(runCtx)
	}
	return w, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkHubs reads the hub of every region that answers: the partition counts must agree (an
// event must land in the same partition everywhere), and one region at least must answer.
func (w *Writer) checkHubs(ctx context.Context) error {
	var errs []string
	for _, reg := range w.o.Regions {
		cctx, cancel := context.WithTimeout(ctx, w.o.SendTimeout)
		h, err := reg.Client.GetHub(cctx, reg.Namespace, reg.Hub)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", reg.Name, err))
			continue
		}
		switch {
		case w.partitions == 0:
			w.partitions, w.maxEventBytes = h.Partitions, int(h.MaxEventBytes)
		case h.Partitions != w.partitions:
			return errcode.New(errcode.InvalidArgument,
				"event hub %s/%s has %d partitions in region %s but %d in another region; a dual-written event must land in the same partition in every region: give the hubs the same partition count",
				reg.Namespace, reg.Hub, h.Partitions, reg.Name, w.partitions)
		default:
			w.maxEventBytes = min(w.maxEventBytes, int(h.MaxEventBytes))
		}
	}
	if w.partitions == 0 {
		return errcode.New(errcode.Unavailable, "no region answered for its input event hub (%v); start one region at least, or check --regions", errs)
	}
	return nil
}

// Send dual-writes events: each region gets them now or, when it cannot, its spool keeps them
// for replay. It fails, sending nothing anywhere, when an event is larger than the hubs take
// or a region's spool has no room for the batch (errcode.QuotaExceeded).
func (w *Writer) Send(ctx context.Context, events []Event) (Result, error) {
	if len(events) == 0 {
		return Result{}, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return Result{}, errcode.New(errcode.Unavailable, "the dual-write producer is closed")
	}
	recs := make([]record, len(events))
	ids := make([]string, len(events))
	for i, e := range events {
		if w.maxEventBytes > 0 && len(e.Body) > w.maxEventBytes {
			return Result{}, errcode.New(errcode.MessageTooLarge, "event %d has %d bytes; the input event hubs take at most %d", i, len(e.Body), w.maxEventBytes)
		}
		id := e.ID
		if id == "" {
			w.mu.seq++
			id = w.producer + "-" + strconv.FormatUint(w.mu.seq, 10)
		}
		key := e.PartitionKey
		if key == "" {
			key = id
		}
		recs[i] = record{ID: id, Time: w.nextTimeLocked(), Key: key, Props: e.Properties, Body: e.Body}
		ids[i] = id
	}
	res, err := w.deliverLocked(ctx, recs)
	res.IDs = ids
	return res, err
}

// nextTimeLocked is the produced time of the next record: the clock, never going back.
func (w *Writer) nextTimeLocked() int64 {
	t := w.o.Now().UnixNano() / 100
	w.mu.last = max(w.mu.last, t)
	return w.mu.last
}

// deliverLocked sends recs to every region that is up, and spools them for every region that is
// down or fails now. The caller holds w.mu.
func (w *Writer) deliverLocked(ctx context.Context, recs []record) (Result, error) {
	encoded := make([][]byte, len(recs))
	size := int64(0)
	for i := range recs {
		encoded[i] = encodeRecord(&recs[i])
		size += int64(len(encoded[i])) + spool.Overhead
	}
	for _, r := range w.regions {
		if err := r.spool.Room(size); err != nil {
			return Result{}, fmt.Errorf("region %s: %w; nothing of this batch was sent", r.Name, err)
		}
	}
	errs := make([]error, len(w.regions))
	var wg sync.WaitGroup
	for i, r := range w.regions {
		if !r.direct.Load() {
			continue
		}
		wg.Go(func() { errs[i] = w.sendRecords(ctx, r, recs) })
	}
	wg.Wait()
	var res Result
	for i, r := range w.regions {
		if r.direct.Load() && errs[i] == nil {
			res.Sent = append(res.Sent, r.Name)
			continue
		}
		if r.direct.Load() {
			w.markDown(r, errs[i])
		}
		if _, _, err := r.spool.Append(encoded); err != nil {
			return res, fmt.Errorf("region %s: spooling %d events after it failed: %w (regions that took them: %v)", r.Name, len(recs), err, res.Sent)
		}
		res.Spooled = append(res.Spooled, r.Name)
	}
	return res, nil
}

// sendRecords sends recs to one region, in order, a request per run of one route.
func (w *Writer) sendRecords(ctx context.Context, r *region, recs []record) error {
	ctx, cancel := context.WithTimeout(ctx, w.o.SendTimeout)
	defer cancel()
	events := 0
	for _, run := range runs(recs) {
		evs := make([]client.Event, len(run))
		for i := range run {
			evs[i] = run[i].event()
		}
		var o client.SendOptions
		if run[0].heartbeat() {
			o.PartitionID = run[0].Partition
		} else {
			events += len(run)
		}
		if _, err := r.Client.Send(ctx, r.Namespace, r.Hub, evs, o); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.mu.sent += int64(events)
	r.mu.Unlock()
	return nil
}

// markDown switches r to spooling. The caller holds w.mu.
func (w *Writer) markDown(r *region, err error) {
	r.direct.Store(false)
	now := w.o.Now()
	r.mu.Lock()
	r.mu.downSince, r.mu.lastErr = now, err.Error()
	r.mu.Unlock()
	w.notify(Notice{Time: now, Region: r.Name, Kind: "down", Detail: err.Error()})
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (w *Writer) notify(n Notice) {
	if w.o.OnNotice != nil {
		w.o.OnNotice(n)
	}
}

// Status reports every region.
func (w *Writer) Status() []RegionStatus {
	out := make([]RegionStatus, len(w.regions))
	for i, r := range w.regions {
		r.mu.Lock()
		out[i] = RegionStatus{Name: r.Name, Up: r.direct.Load(), SpooledRecords: r.spool.Len(), SpooledBytes: r.spool.Bytes(),
			SentEvents: r.mu.sent, Replayed: r.mu.replayed, DownSince: r.mu.downSince, LastError: r.mu.lastErr}
		r.mu.Unlock()
	}
	return out
}

// Producer is the random id that prefixes the event ids this Writer makes.
func (w *Writer) Producer() string { return w.producer }

// Close stops the replay and heartbeat goroutines and closes the spools; what they hold is
// replayed by the next Writer opened on the same SpoolDir.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return nil
	}
	w.mu.closed = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	return w.closeSpools()
}

func (w *Writer) closeSpools() error {
	var first error
	for _, r := range w.regions {
		if err := r.spool.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
