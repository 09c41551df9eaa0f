package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/client/dualwrite"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// dualSettings are send's dual-write flags.
type dualSettings struct {
	spool     string
	spoolMax  int64
	wait      time.Duration
	heartbeat time.Duration
}

func addDualFlags(cmd *cobra.Command, s *dualSettings) {
	addRegionFlags(cmd, false)
	f := cmd.Flags()
	f.StringVar(&s.spool, "spool", "./tandem-spool", "with --regions: directory of the spools of unreachable regions")
	f.Int64Var(&s.spoolMax, "spool-max-bytes", 1<<30, "with --regions: bound of each region's spool")
	f.DurationVar(&s.wait, "wait", 0, "with --regions: at the end, wait this long for down regions to come back and take their spooled events")
	f.DurationVar(&s.heartbeat, "heartbeat", time.Second, "with --regions: interval of the partition heartbeats that advance idle partitions of dual-write jobs")
}

// sendDual dual-writes the lines of stdin to ns/hub in every --regions region.
func sendDual(cmd *cobra.Command, s dualSettings, ns, hub string, tmpl client.Event) error {
	regions, err := regionsFromFlags(cmd)
	if err != nil {
		return err
	}
	o := dualwrite.Options{SpoolDir: s.spool, SpoolMaxBytes: s.spoolMax, Heartbeat: s.heartbeat,
		OnNotice: func(n dualwrite.Notice) {
			fmt.Fprintf(cmd.ErrOrStderr(), "tandem send: region %s %s: %s\n", n.Region, n.Kind, n.Detail)
		}}
	for _, r := range regions {
		o.Regions = append(o.Regions, dualwrite.Region{Name: r.Name, Client: r.c, Namespace: ns, Hub: hub})
	}
	w, err := dualwrite.Open(cmd.Context(), o)
	if err != nil {
		return err
	}
	defer w.Close()
	n, err := dualLines(cmd.Context(), w, cmd, tmpl)
	if err != nil {
		return fmt.Errorf("after %d events were accepted: %w", n, err)
	}
	// A last heartbeat: the jobs' idle partitions advance to the end of this run.
	if err := w.Heartbeat(cmd.Context()); err != nil {
		return err
	}
	if s.wait > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), s.wait)
		defer cancel()
		if err := w.Flush(ctx); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "tandem send: %v\n", err)
		}
	}
	st := w.Status()
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), map[string]any{"accepted": n, "producer": w.Producer(), "regions": st})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "accepted %d events for %s/%s (event ids %s-1…)\n", n, ns, hub, w.Producer())
	for _, r := range st {
		if r.Up {
			fmt.Fprintf(cmd.OutOrStdout(), "  %s: up, %d sent, %d replayed from its spool\n", r.Name, r.SentEvents, r.Replayed)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "  %s: DOWN since %s (%s); %d records (events and heartbeats) spooled in %s, replayed by the next 'tandem send --regions' with this --spool\n",
				r.Name, r.DownSince.Format(time.RFC3339), r.LastError, r.SpooledRecords, s.spool)
		}
	}
	return nil
}

// dualLinger is how long a line waits for more before its batch is sent: a slow pipe of
// events is sent as it comes, so the events' produced times follow the pipe.
const dualLinger = 100 * time.Millisecond

// dualLines sends each non-empty line of stdin as an event, in batches of what is there.
func dualLines(ctx context.Context, w *dualwrite.Writer, cmd *cobra.Command, tmpl client.Event) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader goroutine if a send fails first
	lines := make(chan string)
	scanErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		scanErr <- sc.Err()
	}()
	var batch []dualwrite.Event
	n, size := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := w.Send(ctx, batch); err != nil {
			return err
		}
		n += len(batch)
		batch, size = batch[:0], 0
		return nil
	}
	linger := time.NewTimer(dualLinger)
	defer linger.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if err := <-scanErr; err != nil {
					return n, errcode.New(errcode.InvalidArgument, "reading events from stdin: %v", err)
				}
				return n, flush()
			}
			line = strings.TrimSuffix(line, "\r")
			if line == "" {
				continue
			}
			batch = append(batch, dualwrite.Event{Body: []byte(line), PartitionKey: tmpl.PartitionKey, Properties: tmpl.Properties})
			size += len(line)
			if len(batch) >= sendBatchEvents || size >= sendBatchBytes {
				if err := flush(); err != nil {
					return n, err
				}
			}
			linger.Reset(dualLinger)
		case <-linger.C:
			if err := flush(); err != nil {
				return n, err
			}
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}
