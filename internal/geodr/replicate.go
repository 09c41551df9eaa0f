package geodr

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// feedPageSize bounds the changes of one replication answer.
const feedPageSize = 2000

// runSecondary replicates the primary's metadata into local secondary namespace ns until ns
// is no longer a paired secondary. It resumes from the cursor recorded in the alias
// configuration, so restarts and cut links lose and repeat nothing. It stops when ctx (the
// node's term of metadata leadership) ends.
func (m *Manager) runSecondary(ctx context.Context, ns string) {
	defer m.wg.Done()
	defer m.update(ns, func(l *link) { l.running = false })
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		cfg, ok := m.b.Alias(ns)
		if !ok || cfg.Role != meta.RoleSecondary || !cfg.Paired() {
			return
		}
		err := m.replicateOnce(ctx, ns, cfg)
		if err == nil {
			backoff = 100 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		m.update(ns, func(l *link) { l.reachable, l.lastErr = !isNetwork(err), err.Error() })
		if errcode.Is(err, errcode.Conflict) || errcode.Is(err, errcode.Unauthorized) {
			if m.leftByPrimary(ctx, ns, cfg) {
				return
			}
		}
		m.log.Warn("replication from the primary failed; retrying", "alias", cfg.Name, "namespace", ns,
			"primary", describePeer(cfg.Partner), "retry_in", backoff, "err", detail(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func isNetwork(err error) bool {
	return errcode.Is(err, errcode.Unavailable) || errcode.Is(err, errcode.Timeout)
}

// replicateOnce does one step: a snapshot sync when needed, else one long-poll of the feed
// and the application of its changes.
func (m *Manager) replicateOnce(ctx context.Context, ns string, cfg meta.AliasConfig) error {
	l := m.link(ns)
	m.mu.Lock()
	needSync, scanned := l.needSync || cfg.Through == 0, max(l.scanned, cfg.Through)
	m.mu.Unlock()
	primary := cfg.Partner
	if needSync {
		return m.syncFromSnapshot(ctx, ns, cfg)
	}
	fctx, cancel := context.WithTimeout(ctx, m.opts.FeedWait+15*time.Second)
	defer cancel()
	page, err := m.peer.feed(fctx, primary.Endpoint, primary.Namespace, cfg.LinkKey, scanned, feedPageSize, m.opts.FeedWait)
	if errcode.Is(err, errcode.OffsetOutOfRange) {
		m.update(ns, func(l *link) { l.needSync = true }) // the primary compacted past our cursor
		return nil
	}
	if err != nil {
		return err
	}
	changes := make([]meta.Replicated, 0, len(page.Entries))
	for _, e := range page.Entries {
		if c, ok := meta.ForSecondary(e.Command, ns); ok {
			changes = append(changes, meta.Replicated{Namespace: ns, Alias: cfg.Name, Through: e.Index, Command: c})
		}
	}
	if err := m.b.ApplyReplicated(ctx, changes); err != nil {
		if errcode.Is(err, errcode.Conflict) {
			return err // no longer a secondary (failover or break while applying)
		}
		// The two sides disagree (a bug, or a change made here some other way): converge
		// from a snapshot rather than stop.
		m.log.Error("a replicated change did not apply; resynchronizing from a snapshot of the primary",
			"alias", cfg.Name, "namespace", ns, "err", err)
		m.update(ns, func(l *link) { l.needSync = true })
		return nil
	}
	now := m.now()
	m.update(ns, func(l *link) {
		l.scanned = page.Through
		l.reachable, l.contact, l.lastErr = true, now, ""
		l.pending = max(page.Pending-len(page.Entries), 0)
		l.applied += int64(len(changes))
		if len(changes) > 0 {
			l.lastApplied = now
		}
		if l.pending == 0 && page.Through >= page.Head {
			l.caughtUpAt = now
		}
	})
	m.met.applied.WithLabelValues(ns).Add(float64(len(changes)))
	return nil
}

// syncFromSnapshot makes the secondary equal to a snapshot of the primary namespace and sets
// its cursor to the snapshot's index. It runs when replication starts and whenever the
// primary's log no longer reaches back to the cursor.
func (m *Manager) syncFromSnapshot(ctx context.Context, ns string, cfg meta.AliasConfig) error {
	primary := cfg.Partner
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	snap, err := m.peer.snapshot(sctx, primary.Endpoint, primary.Namespace, cfg.LinkKey)
	if err != nil {
		return err
	}
	if snap.Index < cfg.Through {
		// A node of a clustered primary region that has not applied what this side already
		// has: converging to its snapshot would undo changes the cursor says are applied.
		return errcode.New(errcode.Unavailable,
			"the primary's snapshot is at metadata index %d, behind the %d this secondary applied (a lagging node of the primary region answered); retrying",
			snap.Index, cfg.Through)
	}
	local, _, err := m.b.NamespaceState(ns)
	if err != nil {
		return err
	}
	cmds := meta.SyncCommands(local, snap.Namespace)
	changes := make([]meta.Replicated, 0, len(cmds)+1)
	for _, c := range cmds {
		changes = append(changes, meta.Replicated{Namespace: ns, Alias: cfg.Name, Command: c})
	}
	if snap.Index > cfg.Through {
		changes = append(changes, meta.Replicated{Namespace: ns, Alias: cfg.Name, Through: snap.Index})
	}
	if err := m.b.ApplyReplicated(ctx, changes); err != nil {
		return err
	}
	if cfg.ProvisioningState == meta.ProvisioningAccepted || snap.Epoch > cfg.Epoch {
		// The pairing is provisioned, and the secondary takes the primary's epoch (a
		// failover from here must go past it) from this answer, which the link key
		// authenticates, not from the pair request.
		m.opMu.Lock()
		if cur, ok := m.b.Alias(ns); ok && cur.Role == meta.RoleSecondary && cur.LinkKey == cfg.LinkKey {
			cur.ProvisioningState = meta.ProvisioningSucceeded
			cur.Epoch = max(cur.Epoch, snap.Epoch)
			err = m.b.SetAlias(ctx, ns, cur)
		}
		m.opMu.Unlock()
		if err != nil {
			return err
		}
	}
	now := m.now()
	m.update(ns, func(l *link) {
		l.needSync, l.scanned, l.syncs = false, snap.Index, l.syncs+1
		l.reachable, l.contact, l.lastErr, l.caughtUpAt, l.pending = true, now, "", now, 0
		l.applied += int64(len(cmds))
	})
	m.met.applied.WithLabelValues(ns).Add(float64(len(cmds)))
	m.log.Info("secondary synchronized from a snapshot of the primary", "alias", cfg.Name, "namespace", ns,
		"primary_index", snap.Index, "changes", len(cmds))
	return nil
}

// leftByPrimary checks, after the primary refused the feed, whether the primary really left
// the pairing (break pairing while this side was unreachable); then this side becomes an
// ordinary namespace, as it would have had it been told.
func (m *Manager) leftByPrimary(ctx context.Context, ns string, cfg meta.AliasConfig) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := m.peer.status(ctx, cfg.Partner.Endpoint, cfg.Name, cfg.LinkKey)
	// Not there, or held there under another pairing's key: the primary left this pairing.
	gone := errcode.Is(err, errcode.NotFound) || errcode.Is(err, errcode.Unauthorized)
	if err == nil {
		gone = st.Partner == nil || st.Partner.Region != m.b.Region() || st.Partner.Namespace != ns
	}
	if !gone {
		return false
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if cur, ok := m.b.Alias(ns); !ok || cur.Role != meta.RoleSecondary || cur.LinkKey != cfg.LinkKey {
		return true
	}
	if err := m.b.RetireAlias(ctx, ns); err != nil {
		m.log.Error("clearing the alias the primary left", "alias", cfg.Name, "namespace", ns, "err", err)
		return false
	}
	m.log.Info("the primary broke the pairing; this namespace is an ordinary namespace again", "alias", cfg.Name, "namespace", ns)
	return true
}

// feed serves the replication long-poll on the primary: primary namespace ns's replicable
// changes after index after, waiting up to wait for one.
func (m *Manager) feed(ctx context.Context, ns, linkKey string, after uint64, limit int, wait time.Duration) (Page, error) {
	if limit <= 0 || limit > feedPageSize {
		limit = feedPageSize
	}
	wait = min(max(wait, 0), time.Minute)
	deadline := time.Now().Add(wait)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(m.ctx, stop)() // a closing manager ends its feeds at once
	// Authenticate before anything is recorded: only the secondary may say where it is.
	if _, err := m.pairedPrimary(ns, linkKey); err != nil {
		return Page{}, err
	}
	m.update(ns, func(l *link) { l.ack, l.acked, l.contact, l.reachable = after, true, m.now(), true })
	if err := m.awaitApplied(ctx, after, deadline); err != nil {
		return Page{}, err
	}
	cursor := after
	for {
		cfg, err := m.pairedPrimary(ns, linkKey)
		if err != nil {
			return Page{}, err
		}
		if cfg.ProvisioningState == meta.ProvisioningAccepted {
			m.markSucceeded(ctx, ns, linkKey)
		}
		entries, head, err := m.b.MetaLog(cursor, limit*4)
		if err != nil {
			return Page{}, err
		}
		var rel []meta.Entry
		for _, e := range entries {
			if meta.Replicable(e.Command) && meta.NamespaceOf(e.Command) == ns {
				rel = append(rel, e)
				if len(rel) == limit {
					cursor = e.Index
					break
				}
			}
			cursor = e.Index
		}
		if len(rel) > 0 {
			pending := len(rel)
			if cursor < head {
				pending += m.countReplicable(ns, cursor)
			}
			return Page{Entries: rel, Through: cursor, Head: head, Pending: pending}, nil
		}
		if cursor < head {
			continue // a page of other namespaces' changes: read on
		}
		now := time.Now()
		if !now.Before(deadline) {
			m.update(ns, func(l *link) { l.caughtUpAt = m.now() })
			return Page{Through: cursor, Head: head}, nil
		}
		m.update(ns, func(l *link) { l.parked++; l.caughtUpAt = m.now() })
		wctx, cancel := context.WithDeadline(ctx, deadline)
		werr := m.b.WaitMeta(wctx, head+1)
		cancel()
		m.update(ns, func(l *link) { l.parked--; l.caughtUpAt = m.now() })
		if werr != nil && ctx.Err() != nil {
			return Page{}, ctx.Err()
		}
		if werr != nil && !errors.Is(werr, context.DeadlineExceeded) {
			return Page{}, werr
		}
	}
}

// awaitApplied waits, until deadline, for this node to apply the metadata through index after,
// where the secondary says it is. In a cluster any node serves the feed, from its own applied
// metadata, and a follower may lag the node that served the secondary before; it answers
// Unavailable if it does not catch up in time, and the secondary retries.
func (m *Manager) awaitApplied(ctx context.Context, after uint64, deadline time.Time) error {
	if m.b.MetaIndex() >= after {
		return nil
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	err := m.b.WaitMeta(wctx, after)
	cancel()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return errcode.New(errcode.Unavailable,
		"this node of region %s has applied the metadata through index %d, behind the secondary's position %d; retry shortly",
		m.b.Region(), m.b.MetaIndex(), after)
}

// countReplicable counts primary namespace ns's replicable changes after index after.
func (m *Manager) countReplicable(ns string, after uint64) int {
	n := 0
	for {
		entries, _, err := m.b.MetaLog(after, 10000)
		if err != nil || len(entries) == 0 {
			return n
		}
		for _, e := range entries {
			if meta.Replicable(e.Command) && meta.NamespaceOf(e.Command) == ns {
				n++
			}
		}
		after = entries[len(entries)-1].Index
	}
}

// pairedPrimary returns ns's alias if ns is a paired primary whose link key is linkKey.
func (m *Manager) pairedPrimary(ns, linkKey string) (meta.AliasConfig, error) {
	cfg, ok := m.b.Alias(ns)
	if !ok || cfg.Role != meta.RolePrimary || !cfg.Paired() {
		return cfg, errcode.New(errcode.Conflict, "namespace %s is not the primary of a paired alias in region %s", ns, m.b.Region())
	}
	if !sameKey(linkKey, cfg.LinkKey) {
		return cfg, errcode.New(errcode.Unauthorized, "the link key does not match alias %q of namespace %s; the pairing was replaced", cfg.Name, ns)
	}
	return cfg, nil
}

// markSucceeded moves a primary's alias from Accepted to Succeeded once its secondary is
// replicating.
func (m *Manager) markSucceeded(ctx context.Context, ns, linkKey string) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, ok := m.b.Alias(ns)
	if !ok || !sameKey(linkKey, cfg.LinkKey) || cfg.ProvisioningState != meta.ProvisioningAccepted {
		return
	}
	cfg.ProvisioningState = meta.ProvisioningSucceeded
	if err := m.b.SetAlias(ctx, ns, cfg); err != nil {
		m.log.Warn("recording that the secondary replicates", "namespace", ns, "err", err)
	}
}

// sameKey compares a presented link key with the pairing's in constant time; an empty key
// never matches.
func sameKey(presented, want string) bool {
	return presented != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}
