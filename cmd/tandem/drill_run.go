package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/client/dualwrite"
	"github.com/tandem-streaming/tandem/client/output"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// rehearse runs the timeline: load and reader, kill, failover, restore, catch-up, final checks.
func (d *drill) rehearse(ctx context.Context) error {
	o := dualwrite.Options{SpoolDir: filepath.Join(d.s.dir, "spool"), Heartbeat: 500 * time.Millisecond,
		RetryInterval: 250 * time.Millisecond, SendTimeout: 2 * time.Second,
		OnNotice: func(n dualwrite.Notice) {
			d.rep.mark("producer: region %s %s (%s)", n.Region, n.Kind, n.Detail)
			d.progress("producer: region %s %s: %s", n.Region, n.Kind, n.Detail)
		}}
	for _, r := range d.regions {
		o.Regions = append(o.Regions, dualwrite.Region{Name: r.Name, Client: r.c, Namespace: drillNamespace, Hub: drillHub})
	}
	w, err := dualwrite.Open(ctx, o)
	if err != nil {
		return err
	}
	defer w.Close()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	load := startDrillLoad(loadCtx, w, d.s.rate, d.dev.s.clustered())
	readCtx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	reader, err := startDrillReader(readCtx, d, output.FollowOptions{Primary: d.outputs[0], Secondary: d.outputs[1], Output: "out",
		StateFile: filepath.Join(d.s.dir, "reader-state"), Staleness: d.s.staleness, ErrorGrace: 2 * time.Second, SwitchBack: true})
	if err != nil {
		return err
	}
	d.progress("load of %d events/s and the output reader running; primary east for %v", d.s.rate, d.s.steady)
	if err := sleepCtx(ctx, d.s.steady); err != nil {
		return err
	}
	if err := d.failRegion(ctx, reader); err != nil {
		return err
	}
	if err := d.restoreRegion(ctx, reader); err != nil {
		return err
	}
	stopLoad()
	n, err := load.wait()
	if err != nil {
		return fmt.Errorf("the load generator failed: %w", err)
	}
	d.rep.EventsAccepted, d.rep.seqSum = n.events, n.seqSum
	d.progress("load stopped after %d events; waiting for the producer's spools and the last windows", n.events)
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Flush(flushCtx); err != nil {
		return err
	}
	for _, st := range w.Status() {
		d.rep.Producer = append(d.rep.Producer, st)
	}
	return d.finish(ctx, reader, n.lastTime)
}

// failRegion kills east, measures detection, fails the alias over and waits for the reader to
// leave east.
func (d *drill) failRegion(ctx context.Context, reader *drillReader) error {
	east, west := d.info.regionNodes(0), d.regions[1]
	killed := time.Now() // Kill waits for the process to be gone; the clock starts at the signal
	names, err := killNodes(ctx, east)
	if err != nil {
		return err
	}
	d.rep.killed = killed
	d.rep.Killed = names
	d.rep.mark("kill -9 of region east: %s", strings.Join(names, ", "))
	d.progress("killed region east with SIGKILL: %s", strings.Join(names, ", "))
	if err := waitUntil(ctx, "region east to stop answering", func() bool { return !healthy(ctx, d.regions[0].Server) }); err != nil {
		return err
	}
	d.rep.DetectSeconds = d.rep.since(d.rep.killed)
	d.rep.mark("region east detected down")
	a, err := west.c.Failover(ctx, west.Namespace, devAlias)
	if err != nil {
		return fmt.Errorf("failing alias %s over to west: %w", devAlias, err)
	}
	d.rep.mark("alias %s failed over to west (epoch %d)", devAlias, a.Epoch)
	if err := d.probeAlias(ctx); err != nil {
		return err
	}
	d.rep.AliasFailoverSeconds = d.rep.since(d.rep.killed)
	d.rep.mark("alias %s takes events in west", devAlias)
	d.progress("alias %s failed over to west and takes events", devAlias)
	if err := waitUntil(ctx, "the output reader to switch to the secondary (west)", func() bool { return reader.source() == "secondary" }); err != nil {
		return err
	}
	d.rep.ReaderSwitchSeconds = d.rep.since(d.rep.killed)
	d.rep.RTOSeconds = max(d.rep.ReaderSwitchSeconds, d.rep.AliasFailoverSeconds)
	d.progress("the output reader follows west; east stays down for %v", d.s.outage)
	return sleepCtx(ctx, d.s.outage-time.Since(d.rep.killed))
}

// probeAlias sends an event through the alias in west with the alias connection string, until
// it is taken.
func (d *drill) probeAlias(ctx context.Context) error {
	c, err := client.New(d.regions[1].Server, client.WithConnectionString(d.info.connString))
	if err != nil {
		return err
	}
	var last error
	err = waitUntil(ctx, "the alias to take events in west", func() bool {
		_, last = c.Send(ctx, devAlias, devHub, []client.Event{{Body: []byte(`{"probe":"drill"}`)}}, client.SendOptions{})
		return last == nil
	})
	if err != nil {
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	return nil
}

// restoreRegion starts east again on its data and ports and waits for the reader to report it
// caught up and switch back.
func (d *drill) restoreRegion(ctx context.Context, reader *drillReader) error {
	nodes, err := restartNodes(ctx, d.dev, d.info, d.info.regionNodes(0))
	if err != nil {
		return err
	}
	restored := time.Now()
	d.rep.mark("region east restarted (pid %s)", pids(nodes))
	d.progress("restarted region east (pid %s); waiting for it to catch up", pids(nodes))
	if err := waitUntil(ctx, "the reader to report east caught up and switch back", func() bool { return reader.source() == "primary" }); err != nil {
		return err
	}
	d.rep.CatchUpSeconds = d.rep.since(restored)
	d.progress("east caught up in %.1fs; the reader is back on it", d.rep.CatchUpSeconds)
	return nil
}

// finish waits for both outputs to hold the last window, lets the reader read it, and checks.
func (d *drill) finish(ctx context.Context, reader *drillReader, lastEvent time.Time) error {
	end := sink.TimeTicks(lastEvent.Truncate(time.Second).Add(time.Second)) // the last window's end
	var readers [2]sink.Reader
	for i, u := range d.outputs {
		r, err := sink.OpenReader(ctx, u, "out")
		if err != nil {
			return fmt.Errorf("opening %s's output: %w", d.regions[i].Name, err)
		}
		defer r.Close()
		readers[i] = r
	}
	var hw [2]sink.Position
	err := waitUntil(ctx, "both outputs to hold the window of the last event", func() bool {
		for i, r := range readers {
			p, ok, err := r.HighWater(ctx)
			if err != nil || !ok || p.Time < end {
				return false
			}
			hw[i] = p
		}
		return true
	})
	if err != nil {
		return err
	}
	final := hw[0]
	if final.Less(hw[1]) {
		final = hw[1]
	}
	if err := waitUntil(ctx, "the reader to read the last row", func() bool { return !reader.position().Less(final) }); err != nil {
		return err
	}
	reader.stop()
	d.rep.takeReader(reader)
	if err := d.rep.compare(ctx, readers, reader); err != nil {
		return err
	}
	for _, r := range d.regions {
		if info, err := r.c.GetJob(ctx, drillJob); err == nil {
			d.rep.JobDuplicates = append(d.rep.JobDuplicates, fmt.Sprintf("%s: %d", r.Name, info.Status.DuplicateEvents))
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
