package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSegmentHTTP: the route serves exactly ReadRange to a client signed with the cluster
// secret and refuses wrong secrets, stale times and bad ranges; a replica restores a snapshot
// through HTTPSegmentSource.
func TestSegmentHTTP(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster-secret")
	ents := genEntries(5, 200)
	leader := openRP(t, t.TempDir(), 1000)
	defer leader.Close()
	applyChunked(t, leader, ents, rand.New(rand.NewPCG(3, 3)))
	srv := httptest.NewServer(NewSegmentHandler(secret, func(g uint64) *ReplicatedPartition {
		if g == testGroup {
			return leader
		}
		return nil
	}, nil))
	defer srv.Close()
	src := &HTTPSegmentSource{Client: srv.Client(), Secret: secret, Peers: func(uint64) []string { return []string{srv.URL} }}
	end := leader.p.EndOffset()
	rc, err := src.Fetch(context.Background(), testGroup, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	lr, _ := leader.ReadRange(0, end)
	want, _ := io.ReadAll(lr)
	if !bytes.Equal(got, want) || len(want) == 0 {
		t.Fatalf("served %d bytes, the log holds %d", len(got), len(want))
	}
	for _, tc := range []struct {
		name   string
		src    *HTTPSegmentSource
		group  uint64
		from   int64
		status string
	}{
		{"wrong secret", &HTTPSegmentSource{Client: srv.Client(), Secret: []byte("another-secret-0123456"), Peers: src.Peers}, testGroup, 0, "401"},
		{"stale", &HTTPSegmentSource{Client: srv.Client(), Secret: secret, Peers: src.Peers, Now: func() time.Time { return time.Now().Add(-time.Hour) }}, testGroup, 0, "401"},
		{"unknown group", src, 99, 0, "404"},
		{"range", src, testGroup, end + 1, "416"},
	} {
		if _, err := tc.src.Fetch(context.Background(), tc.group, tc.from, end+5); err == nil || !strings.Contains(err.Error(), tc.status) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.status)
		}
	}
	resp, err := srv.Client().Get(srv.URL + SegmentsPath + "?group=1&from=0&to=1")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %v %v", resp, err)
	}
	resp.Body.Close()

	// A follower restores the leader's snapshot over HTTP.
	f := openRPOpts(t, t.TempDir(), 1000, 0, src)
	defer f.Close()
	applyChunked(t, f, ents[:50], rand.New(rand.NewPCG(4, 4)))
	if err := f.Restore(snapOf(t, leader)); err != nil {
		t.Fatal(err)
	}
	if f.p.EndOffset() != end || f.Applied() != leader.Applied() || contentDigest(t, f, 0, end) != contentDigest(t, leader, 0, end) ||
		!reflect.DeepEqual(producersOf(f), producersOf(leader)) {
		t.Fatalf("after restore over HTTP: end %d applied %d, leader %d %d", f.p.EndOffset(), f.Applied(), end, leader.Applied())
	}
}

// smallBufListener gives accepted connections a small send buffer, so a response larger than
// it waits for the client to read.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// A segment stream read slowly for longer than the server's write timeout still arrives whole:
// each write moves the deadline, so only a peer that stops reading is cut off.
func TestSegmentStreamOutlivesTheWriteTimeout(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster-secret")
	leader := openRP(t, t.TempDir(), 1000)
	defer leader.Close()
	applyChunked(t, leader, genEntries(6, 400), rand.New(rand.NewPCG(6, 6)))
	srv := httptest.NewUnstartedServer(NewSegmentHandler(secret, func(uint64) *ReplicatedPartition { return leader }, nil))
	srv.Listener = smallBufListener{srv.Listener}
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	src := &HTTPSegmentSource{Client: client, Secret: secret, Peers: func(uint64) []string { return []string{srv.URL} }}
	end := leader.p.EndOffset()
	rc, err := src.Fetch(context.Background(), testGroup, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 2048)
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	lr, _ := leader.ReadRange(0, end)
	want, _ := io.ReadAll(lr)
	t.Logf("%d bytes in %v", len(want), time.Since(start))
	if took := time.Since(start); took < 3*srv.Config.WriteTimeout {
		t.Skipf("the %d bytes arrived in %v, before the write timeout could matter", len(want), took)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d of %d bytes over %v: the stream was cut by the write timeout", got.Len(), len(want), time.Since(start))
	}
}

// TestSegmentHTTPLogStartMoved: a peer whose retention deleted the start of the range answers
// 416 with its log start; the source reports the smallest such start past the request
// (LogStartMovedError) when no peer serves the range, and a replica restoring a snapshot that
// asks for the deleted batches copies from that start, its log starting there.
func TestSegmentHTTPLogStartMoved(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster-secret")
	ents := genEntries(7, 300)
	leaderDir := t.TempDir()
	leader := openRPOpts(t, leaderDir, 1000, 0, nil)
	defer leader.Close()
	applyChunked(t, leader, ents, rand.New(rand.NewPCG(4, 4)))
	snap := snapOf(t, leader) // log start 0: taken before retention
	// Retention on the peer after the snapshot: keep about the newest 8 KiB.
	if n, err := leader.ApplyRetentionWith(0, 8192); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	start := leader.p.StartOffset()
	srv := httptest.NewServer(NewSegmentHandler(secret, func(uint64) *ReplicatedPartition { return leader }, nil))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler()) // a peer without the group
	defer down.Close()
	src := &HTTPSegmentSource{Client: srv.Client(), Secret: secret, Peers: func(uint64) []string { return []string{down.URL, srv.URL} }}
	_, err := src.Fetch(context.Background(), testGroup, 0, leader.p.EndOffset())
	var moved *LogStartMovedError
	if !errors.As(err, &moved) || moved.Start != start || moved.From != 0 {
		t.Fatalf("fetch below the log start: %v, want a LogStartMovedError with start %d", err, start)
	}
	f := openRPOpts(t, t.TempDir(), 1000, 0, src)
	defer f.Close()
	if err := f.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if f.p.StartOffset() != start || f.p.EndOffset() != leader.p.EndOffset() || f.Applied() != leader.Applied() {
		t.Fatalf("restored log [%d, %d) at %d, want [%d, %d) at %d", f.p.StartOffset(), f.p.EndOffset(), f.Applied(),
			start, leader.p.EndOffset(), leader.Applied())
	}
	if a, b := contentDigest(t, f, start, f.p.EndOffset()), contentDigest(t, leader, start, leader.p.EndOffset()); a != b {
		t.Fatal("the copied batches differ from the peer's")
	}
}

// TestRestoreBehindEveryPeersStart: the peers' retention deleted even the snapshot's end
// (segments rolled and expired after it was taken): the replica restores an empty log starting
// at the snapshot's end, and the entries after the snapshot give it the peers' bytes.
func TestRestoreBehindEveryPeersStart(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster-secret")
	ents := genEntries(8, 400)
	leader := openRPOpts(t, t.TempDir(), 1000, 0, nil)
	defer leader.Close()
	applyChunked(t, leader, ents[:100], rand.New(rand.NewPCG(5, 5)))
	snap := snapOf(t, leader)
	snapEnd := leader.p.EndOffset()
	applyChunked(t, leader, ents[100:], rand.New(rand.NewPCG(6, 6)))
	if _, err := leader.ApplyRetentionWith(0, 4096); err != nil {
		t.Fatal(err)
	}
	if start := leader.p.StartOffset(); start <= snapEnd {
		t.Fatalf("the peer's log starts at %d, not past the snapshot's end %d", start, snapEnd)
	}
	srv := httptest.NewServer(NewSegmentHandler(secret, func(uint64) *ReplicatedPartition { return leader }, nil))
	defer srv.Close()
	f := openRPOpts(t, t.TempDir(), 1000, 0, &HTTPSegmentSource{Client: srv.Client(), Secret: secret,
		Peers: func(uint64) []string { return []string{srv.URL} }})
	defer f.Close()
	if err := f.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if f.p.StartOffset() != snapEnd || f.p.EndOffset() != snapEnd || f.Applied() != snap.GetMetadata().GetIndex() {
		t.Fatalf("restored log [%d, %d) at %d, want [%d, %d) at %d", f.p.StartOffset(), f.p.EndOffset(), f.Applied(),
			snapEnd, snapEnd, snap.GetMetadata().GetIndex())
	}
	applyChunked(t, f, ents[100:], rand.New(rand.NewPCG(7, 7)))
	start := leader.p.StartOffset()
	if f.p.EndOffset() != leader.p.EndOffset() {
		t.Fatalf("ends at %d, the peer at %d", f.p.EndOffset(), leader.p.EndOffset())
	}
	if a, b := contentDigest(t, f, start, f.p.EndOffset()), contentDigest(t, leader, start, leader.p.EndOffset()); a != b {
		t.Fatal("the batches applied after the restore differ from the peer's")
	}
	checkLog(t, f)
}
