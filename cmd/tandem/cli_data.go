package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Send batching: events are sent in requests of at most this many events or bytes.
const (
	sendBatchEvents = 500
	sendBatchBytes  = 4 << 20
	maxLineBytes    = 20 << 20 // the largest max event size a hub can have
)

func newSendCmd() *cobra.Command {
	var key string
	var partition int32
	var props []string
	var dual dualSettings
	cmd := &cobra.Command{
		Use:   "send NS/HUB < events",
		Short: "Send events read from stdin, one per line",
		Long: `Send events read from standard input, one event per line (empty lines are skipped).
Lines are sent as they are: a line that is JSON stays exactly those bytes.

Events go to --partition if given, else to the partition their --key hashes to
(as Kafka's default partitioner), else round-robin.

With --regions A,B the events are dual-written, for geo-redundant jobs: each event gets a
stable event id and the producer's time and goes to NS/HUB in every region; what a region
cannot take is spooled in --spool and replayed in order when it is back (by this command
while it runs, or by the next 'tandem send --regions' with the same --spool).`,
		Args: exactArgs(1, "NS/HUB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := splitPath(args[0], "NS/HUB")
			if err != nil {
				return err
			}
			properties, err := parseProperties(props)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("regions") {
				if cmd.Flags().Changed("partition") {
					return errcode.New(errcode.InvalidArgument, "--partition does not go with --regions: dual-written events are routed by --key (or their event id) so they land in the same partition in every region")
				}
				return sendDual(cmd, dual, p[0], p[1], client.Event{PartitionKey: key, Properties: properties})
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			var o client.SendOptions
			if cmd.Flags().Changed("partition") {
				o.PartitionID = client.Partition(partition)
			}
			tmpl := client.Event{PartitionKey: key, Properties: properties}
			placed, err := sendLines(cmd.Context(), c, p[0], p[1], cmd.InOrStdin(), tmpl, o)
			if err != nil {
				return err
			}
			return reportSent(cmd, args[0], placed)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&key, "key", "k", "", "partition key of every event (the Kafka record key)")
	f.Int32VarP(&partition, "partition", "p", 0, "send every event to this partition")
	f.StringArrayVar(&props, "property", nil, "application property k=v of every event (repeatable)")
	addDualFlags(cmd, &dual)
	return cmd
}

func parseProperties(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, errcode.New(errcode.InvalidArgument, "--property %q is invalid; use --property name=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// sendLines sends each non-empty line of r as an event, in batches.
func sendLines(ctx context.Context, c *client.Client, ns, hub string, r io.Reader, tmpl client.Event, o client.SendOptions) ([]client.Placement, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var placed []client.Placement
	var batch []client.Event
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := c.Send(ctx, ns, hub, batch, o)
		if err != nil {
			return fmt.Errorf("after %d events were sent: %w", len(placed), err)
		}
		placed = append(placed, res...)
		batch, size = batch[:0], 0
		return nil
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		ev := tmpl
		ev.Body = []byte(line)
		batch = append(batch, ev)
		size += len(line)
		if len(batch) >= sendBatchEvents || size >= sendBatchBytes {
			if err := flush(); err != nil {
				return placed, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return placed, errcode.New(errcode.InvalidArgument, "reading events from stdin after %d events: %v", len(placed), err)
	}
	return placed, flush()
}

func reportSent(cmd *cobra.Command, target string, placed []client.Placement) error {
	if jsonOutput(cmd) {
		if placed == nil {
			placed = []client.Placement{}
		}
		return printJSON(cmd.OutOrStdout(), map[string]any{"sent": len(placed), "events": placed})
	}
	type span struct{ first, last, n int64 }
	spans := map[int32]*span{}
	for _, p := range placed {
		s := spans[p.PartitionID]
		if s == nil {
			s = &span{first: p.Offset, last: p.Offset}
			spans[p.PartitionID] = s
		}
		s.first, s.last, s.n = min(s.first, p.Offset), max(s.last, p.Offset), s.n+1
	}
	ids := make([]int32, 0, len(spans))
	for id := range spans {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var parts []string
	for _, id := range ids {
		s := spans[id]
		parts = append(parts, fmt.Sprintf("partition %d: %d events, offsets %d-%d", id, s.n, s.first, s.last))
	}
	msg := fmt.Sprintf("sent %d events to %s", len(placed), target)
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), msg)
	return err
}

// receiveSettings are the flags of receive.
type receiveSettings struct {
	partition  int32
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
		Use:   "receive NS/HUB --partition P [--from POSITION]",
		Short: "Print the events of a partition, one per line",
		Long: `Print the events of one partition, one per line: the body in text mode, a JSON object
with the system properties in -o json mode. Without --follow it stops at the end of the partition.

--from is start, end, offset:N, seq:N or time:RFC3339. Without --from it starts at the
start, or, with --group, after the group's checkpoint. --checkpoint (with --group) stores
the position after the last event printed.`,
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
	f.Int32VarP(&s.partition, "partition", "p", 0, "partition to read")
	f.StringVar(&s.from, "from", "", "position: start, end, offset:N, seq:N or time:RFC3339")
	f.IntVar(&s.max, "max", 0, "stop after this many events (0: no limit)")
	f.BoolVarP(&s.follow, "follow", "f", false, "keep waiting for new events (until interrupted)")
	f.StringVarP(&s.group, "group", "g", "", "consumer group whose checkpoint to start from")
	f.BoolVar(&s.checkpoint, "checkpoint", false, "store the position after the last printed event in --group")
	f.DurationVar(&s.wait, "poll-wait", 30*time.Second, "with --follow, how long one request waits for new events")
	return cmd
}

// startPosition is --from, else the group's checkpoint, else the start.
func startPosition(ctx context.Context, c *client.Client, ns, hub string, s receiveSettings) (client.Position, error) {
	if s.from != "" {
		return client.ParsePosition(s.from)
	}
	if s.group == "" {
		return client.Start, nil
	}
	cp, err := c.GetCheckpoint(ctx, ns, hub, s.group, s.partition)
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

func receive(ctx context.Context, cmd *cobra.Command, c *client.Client, ns, hub string, s receiveSettings) error {
	pos, err := startPosition(ctx, c, ns, hub, s)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	printed := 0
	for {
		page := 1000
		if s.max > 0 {
			page = min(page, s.max-printed)
		}
		var wait time.Duration
		if s.follow {
			wait = s.wait
		}
		res, err := c.Receive(ctx, ns, hub, s.partition, client.ReceiveOptions{From: pos, Max: page, Wait: wait})
		if err != nil {
			if s.follow && ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		for _, ev := range res.Events {
			if err := printEvent(out, ev, jsonOutput(cmd)); err != nil {
				return err
			}
		}
		printed += len(res.Events)
		if err := out.Flush(); err != nil {
			return err
		}
		if s.checkpoint && len(res.Events) > 0 {
			next := res.Events[len(res.Events)-1].Offset + 1
			if _, err := c.SetCheckpoint(context.WithoutCancel(ctx), ns, hub, s.group, s.partition, next, ""); err != nil {
				return err
			}
		}
		pos = client.AtOffset(res.NextOffset)
		if (s.max > 0 && printed >= s.max) || (!s.follow && len(res.Events) == 0) {
			return nil
		}
	}
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
