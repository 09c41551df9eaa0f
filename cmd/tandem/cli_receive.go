package main

// tandem receive: print the events of one partition, or of every partition of an event hub.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// receiveSettings are the flags of receive.
type receiveSettings struct {
	partition  int32
	all        bool // no --partition: every partition of the hub
	from       string
	max        int
	follow     bool
	group      string
	checkpoint bool
	wait       time.Duration
}

func newReceiveCmd() *cobra.Command {
	var s receiveSettings
	cmd := &cobra.Command{
		Use:   "receive NS/HUB [--partition P] [--from POSITION]",
		Short: "Print the events of an event hub (every partition, or one), one per line",
		Long: `Print the events of an event hub, one per line: the body in text mode, a JSON object
with the system properties (partitionId, offset, ...) in -o json mode. Without --partition it
reads every partition (as kcat -C -t does): without --follow one partition after the other,
each to its end; with --follow all of them at once. Without --follow it stops at the end.

--from is start, end, offset:N, seq:N or time:RFC3339 (offset:N and seq:N only with
--partition: they are positions in one partition). Without --from it starts at the start, or, with --group,
after the group's checkpoint of each partition. --checkpoint (with --group) stores, per
partition, the position after the last event printed. --max counts events over all partitions.`,
		Args: exactArgs(1, "NS/HUB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitPath(args[0], "NS/HUB")
			if err != nil {
				return err
			}
			if s.checkpoint && s.group == "" {
				return errcode.New(errcode.InvalidArgument, "--checkpoint needs --group, the consumer group to store the position in")
			}
			if s.max < 0 {
				return errcode.New(errcode.InvalidArgument, "--max %d is invalid; use 0 (no limit) or more", s.max)
			}
			s.all = !cmd.Flags().Changed("partition")
			if pos := strings.ToLower(s.from); s.all && (strings.HasPrefix(pos, "offset:") || strings.HasPrefix(pos, "seq:")) {
				return errcode.New(errcode.InvalidArgument,
					"--from %s is a position in one partition; give --partition P with it, or read every partition from start, end or time:RFC3339", s.from)
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if s.follow {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
				defer stop()
			}
			return receive(ctx, cmd, c, p[0], p[1], s)
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&s.partition, "partition", "p", 0, "partition to read (default: every partition)")
	f.StringVar(&s.from, "from", "", "position: start, end, offset:N, seq:N or time:RFC3339")
	f.IntVar(&s.max, "max", 0, "stop after this many events (0: no limit)")
	f.BoolVarP(&s.follow, "follow", "f", false, "keep waiting for new events (until interrupted)")
	f.StringVarP(&s.group, "group", "g", "", "consumer group whose checkpoint to start from")
	f.BoolVar(&s.checkpoint, "checkpoint", false, "store the position after the last printed event in --group")
	f.DurationVar(&s.wait, "poll-wait", 30*time.Second, "with --follow, how long one request waits for new events")
	return cmd
}

// startPosition is --from, else the group's checkpoint of partition, else the start.
func startPosition(ctx context.Context, c *client.Client, ns, hub string, s receiveSettings, partition int32) (client.Position, error) {
	if s.from != "" {
		return client.ParsePosition(s.from)
	}
	if s.group == "" {
		return client.Start, nil
	}
	cp, err := c.GetCheckpoint(ctx, ns, hub, s.group, partition)
	if errcode.Is(err, errcode.NotFound) {
		if _, gerr := c.GetConsumerGroup(ctx, ns, hub, s.group); gerr != nil {
			return client.Position{}, gerr
		}
		return client.Start, nil
	}
	if err != nil {
		return client.Position{}, err
	}
	return client.AtOffset(cp.Offset), nil
}

// receive reads --partition, or every partition of the hub.
func receive(ctx context.Context, cmd *cobra.Command, c *client.Client, ns, hub string, s receiveSettings) error {
	if s.from != "" { // a bad --from fails before any request
		if _, err := client.ParsePosition(s.from); err != nil {
			return err
		}
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	pr := &eventPrinter{w: out, asJSON: jsonOutput(cmd), max: s.max}
	if !s.all {
		return receivePartition(ctx, c, ns, hub, s, s.partition, pr)
	}
	h, err := c.GetHub(ctx, ns, hub)
	if err != nil {
		return err
	}
	if !s.follow {
		for id := int32(0); id < h.Partitions && !pr.full(); id++ {
			if err := receivePartition(ctx, c, ns, hub, s, id, pr); err != nil {
				return err
			}
		}
		return nil
	}
	return followAll(ctx, c, ns, hub, s, h.Partitions, pr)
}

// followAll follows every partition at once, one goroutine each, until interrupted, --max
// events are printed, or one partition fails (whose error it returns). It waits for all.
func followAll(ctx context.Context, c *client.Client, ns, hub string, s receiveSettings, partitions int32, pr *eventPrinter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr.onFull = cancel
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for id := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := receivePartition(ctx, c, ns, hub, s, id, pr); err != nil && ctx.Err() == nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

// receivePartition prints one partition's events from its start position, page by page.
func receivePartition(ctx context.Context, c *client.Client, ns, hub string, s receiveSettings, id int32, pr *eventPrinter) error {
	pos, err := startPosition(ctx, c, ns, hub, s, id)
	if err != nil {
		if s.follow && ctx.Err() != nil {
			return nil // interrupted
		}
		return err
	}
	for !pr.full() {
		page := 1000
		if s.max > 0 {
			page = max(1, min(page, pr.remaining()))
		}
		var wait time.Duration
		if s.follow {
			wait = s.wait
		}
		res, err := c.Receive(ctx, ns, hub, id, client.ReceiveOptions{From: pos, Max: page, Wait: wait})
		if err != nil {
			if s.follow && ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		n, err := pr.print(res.Events)
		if err != nil {
			return err
		}
		if s.checkpoint && n > 0 {
			next := res.Events[n-1].Offset + 1
			if _, err := c.SetCheckpoint(context.WithoutCancel(ctx), ns, hub, s.group, id, next, ""); err != nil {
				return err
			}
		}
		pos = client.AtOffset(res.NextOffset)
		if !s.follow && len(res.Events) == 0 {
			return nil
		}
	}
	return nil
}

// eventPrinter prints events from one or more partitions, at most max (0: no limit) in all.
type eventPrinter struct {
	mu      sync.Mutex
	w       *bufio.Writer
	asJSON  bool
	max     int
	printed int
	onFull  func() // called once the limit is reached (followAll stops the other partitions)
}

func (p *eventPrinter) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max > 0 && p.printed >= p.max
}

func (p *eventPrinter) remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max - p.printed
}

// print prints evs up to the limit and flushes; it returns how many it printed.
func (p *eventPrinter) print(evs []client.ReceivedEvent) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(evs)
	if p.max > 0 {
		n = max(0, min(n, p.max-p.printed))
	}
	for _, ev := range evs[:n] {
		if err := printEvent(p.w, ev, p.asJSON); err != nil {
			return 0, err
		}
	}
	p.printed += n
	if p.max > 0 && p.printed >= p.max && p.onFull != nil {
		p.onFull()
	}
	return n, p.w.Flush()
}

// eventLine is an event as -o json prints it, one object per line.
type eventLine struct {
	PartitionID    int32             `json:"partitionId"`
	Offset         int64             `json:"offset"`
	SequenceNumber int64             `json:"sequenceNumber"`
	EnqueuedTime   time.Time         `json:"enqueuedTime"`
	PartitionKey   string            `json:"partitionKey,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
	Body           any               `json:"body"`
}

func printEvent(w io.Writer, ev client.ReceivedEvent, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprintf(w, "%s\n", ev.Body)
		return err
	}
	var body any = string(ev.Body)
	if json.Valid(ev.Body) {
		body = json.RawMessage(ev.Body)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(eventLine{PartitionID: ev.PartitionID, Offset: ev.Offset, SequenceNumber: ev.SequenceNumber,
		EnqueuedTime: ev.EnqueuedTime, PartitionKey: ev.PartitionKey, Properties: ev.Properties, Body: body})
}
