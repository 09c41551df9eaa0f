package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

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
