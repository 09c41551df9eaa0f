package dualwrite

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Replay batches: records per send request and bytes read from the spool at once.
const (
	replayRecords = 500
	replayBytes   = 4 << 20
)

// replayLoop owns region r's replay: while r is down it tries, every RetryInterval (or at once
// when woken), to send the spool's oldest records, and acknowledges them once the region took
// them; when the spool is empty it switches r back to direct sends.
func (w *Writer) replayLoop(ctx context.Context, r *region) {
	defer w.wg.Done()
	tick := time.NewTicker(w.o.RetryInterval)
	defer tick.Stop()
	for {
		if !r.direct.Load() {
			w.replay(ctx, r)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.wake:
		}
	}
}

// replay drains r's spool until it is empty (r is then up) or a send fails.
func (w *Writer) replay(ctx context.Context, r *region) {
	for ctx.Err() == nil {
		recs, err := w.peek(r)
		if err == nil && len(recs.records) == 0 {
			if w.switchToDirect(r) {
				return
			}
			continue // a Send spooled more meanwhile
		}
		if err == nil {
			err = w.sendRecords(ctx, r, recs.records)
		}
		if err == nil {
			err = r.spool.Ack(recs.last)
		}
		if err != nil {
			if ctx.Err() == nil {
				r.mu.Lock()
				r.mu.lastErr = err.Error()
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		r.mu.replayed += int64(recs.events)
		r.mu.Unlock()
	}
}

type spooled struct {
	records []record
	last    uint64 // seq of the last record
	events  int    // records that are events (not heartbeats)
}

// peek reads the oldest spooled records of r.
func (w *Writer) peek(r *region) (spooled, error) {
	raw, err := r.spool.Peek(replayRecords, replayBytes)
	if err != nil || len(raw) == 0 {
		return spooled{}, err
	}
	out := spooled{records: make([]record, len(raw)), last: raw[len(raw)-1].Seq}
	for i, rr := range raw {
		rec, err := decodeRecord(rr.Data)
		if err != nil {
			return spooled{}, errcode.New(errcode.CorruptData, "region %s: spool record %d: %v; move the spool directory aside to go on without it", r.Name, rr.Seq, err)
		}
		out.records[i] = rec
		if !rec.heartbeat() {
			out.events++
		}
	}
	return out, nil
}

// switchToDirect makes r direct if its spool is empty; Sends append under w.mu, so none can
// slip between the check and the switch.
func (w *Writer) switchToDirect(r *region) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.spool.Len() != 0 {
		return false
	}
	r.direct.Store(true)
	r.mu.Lock()
	since := r.mu.downSince
	r.mu.downSince, r.mu.lastErr = time.Time{}, ""
	r.mu.Unlock()
	detail := "its spool is replayed"
	if !since.IsZero() {
		detail = fmt.Sprintf("its spool is replayed; it was down for %v", w.o.Now().Sub(since).Round(time.Millisecond))
	}
	w.notify(Notice{Time: w.o.Now(), Region: r.Name, Kind: "up", Detail: detail})
	return true
}

// heartbeatLoop sends every partition a heartbeat each interval (see package doc).
func (w *Writer) heartbeatLoop(ctx context.Context) {
	defer w.wg.Done()
	tick := time.NewTicker(w.o.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = w.Heartbeat(ctx) // a failure marks the region down; the spool keeps the heartbeat
	}
}

// Heartbeat sends one heartbeat to every partition of every region now (the Writer also does it
// every Options.Heartbeat).
func (w *Writer) Heartbeat(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return nil
	}
	t := w.nextTimeLocked()
	recs := make([]record, w.partitions)
	for p := range w.partitions {
		recs[p] = record{Time: t, Partition: &p}
	}
	_, err := w.deliverLocked(ctx, recs)
	return err
}

// Flush waits until every region is up with an empty spool, or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := ""
		for _, st := range w.Status() {
			if !st.Up {
				pending += fmt.Sprintf(" %s (%d records spooled, %s)", st.Name, st.SpooledRecords, st.LastError)
			}
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return errcode.New(errcode.Timeout, "regions still to catch up:%s", pending)
		case <-tick.C:
		}
	}
}
