package broker

import (
	"bytes"
	"context"
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
