package job

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// hubSink is an event hub output of this region: eventhub://NAMESPACE/HUB[?partition=N]. Every
// row becomes one event whose body is the row's JSON and whose properties carry the row's
// timestamp and key (tandem-ts, tandem-key). All rows of the output go to one partition, in the
// output's total order, so a consumer reads them in that order.
//
// Exactly once: on open and after a failed write the sink reads the last event of its
// partition, and Write skips the rows at or before it; the job replays rows only in the same
// order, so a row is appended once. The partition must hold only this output's events.
type hubSink struct {
	b         *broker.Broker
	ns, hub   string
	partition int32
	mu        sync.Mutex
	high      sink.Position
	has       bool
	stale     bool // a write failed: read the high-water mark again before the next
}

const (
	propTime = "tandem-ts"
	propKey  = "tandem-key"
)

func isHubURL(u string) bool { return strings.HasPrefix(u, "eventhub://") }

func openHubSink(ctx context.Context, b *broker.Broker, raw string) (*hubSink, error) {
	u, err := url.Parse(raw)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if err != nil || u.Host == "" || len(parts) != 1 || parts[0] == "" {
		return nil, errcode.New(errcode.InvalidArgument, "event hub output %q: write eventhub://NAMESPACE/HUB[?partition=N]", raw)
	}
	s := &hubSink{b: b, ns: u.Host, hub: parts[0]}
	if p := u.Query().Get("partition"); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return nil, errcode.New(errcode.InvalidArgument, "event hub output %q: partition must be a partition id", raw)
		}
		s.partition = int32(n)
	}
	if _, err := b.Partition(s.ns, s.hub, s.partition); err != nil {
		return nil, fmt.Errorf("event hub output %s/%s partition %d: %w", s.ns, s.hub, s.partition, err)
	}
	if err := s.loadHighWater(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// loadHighWater reads the position of the partition's last event.
func (s *hubSink) loadHighWater(ctx context.Context) error {
	p, err := s.b.Partition(s.ns, s.hub, s.partition)
	if err != nil {
		return err
	}
	s.has, s.stale = false, false
	end := p.EndOffset()
	if end == p.StartOffset() {
		return nil
	}
	evs, _, err := s.b.Receive(ctx, s.ns, s.hub, s.partition, broker.Position{Kind: broker.FromOffset, Offset: end - 1}, 1, 0)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	pos, ok := rowPosition(evs[0])
	if !ok {
		return errcode.New(errcode.Conflict, "event hub output %s/%s partition %d holds events no job wrote; give the output a hub or partition of its own", s.ns, s.hub, s.partition)
	}
	s.high, s.has = pos, true
	return nil
}

func rowPosition(ev broker.ReceivedEvent) (sink.Position, bool) {
	t, err := strconv.ParseInt(ev.Properties[propTime], 10, 64)
	key, ok := ev.Properties[propKey]
	if err != nil || !ok {
		return sink.Position{}, false
	}
	return sink.Position{Time: t, Key: key}, true
}

// Write appends the rows after the high-water mark, in chunks (each one batch of one partition).
func (s *hubSink) Write(ctx context.Context, rows []sink.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale {
		if err := s.loadHighWater(ctx); err != nil {
			return err
		}
	}
	var evs []broker.Event
	for _, r := range rows {
		if s.has && !s.high.Less(r.Pos()) {
			continue
		}
		evs = append(evs, broker.Event{Body: r.Data, Properties: map[string]string{
			propTime: strconv.FormatInt(r.Time, 10), propKey: r.Key}})
	}
	for len(evs) > 0 {
		n := min(len(evs), 500)
		if _, err := s.b.Send(ctx, s.ns, s.hub, evs[:n], broker.SendOptions{PartitionID: &s.partition}); err != nil {
			s.stale = true
			return fmt.Errorf("event hub output %s/%s: %w", s.ns, s.hub, err)
		}
		pos, _ := rowPosition(broker.ReceivedEvent{Properties: evs[n-1].Properties})
		s.high, s.has = pos, true
		evs = evs[n:]
	}
	return nil
}

func (s *hubSink) HighWater(ctx context.Context) (sink.Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.high, s.has, nil
}

// ReadAfter scans the partition from its start: fine for tests and small outputs.
func (s *hubSink) ReadAfter(ctx context.Context, after sink.Position, limit int) ([]sink.Row, error) {
	var out []sink.Row
	pos := broker.Position{Kind: broker.FromStart}
	for len(out) < limit {
		evs, next, err := s.b.Receive(ctx, s.ns, s.hub, s.partition, pos, 1000, 0)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return out, nil
		}
		for _, ev := range evs {
			if p, ok := rowPosition(ev); ok && after.Less(p) && len(out) < limit {
				out = append(out, sink.Row{Time: p.Time, Key: p.Key, Data: ev.Body})
			}
		}
		pos = broker.Position{Kind: broker.FromOffset, Offset: next}
	}
	return out, nil
}

func (s *hubSink) Close() error { return nil }
