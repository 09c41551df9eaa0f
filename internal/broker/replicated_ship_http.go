package broker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// SegmentsPath is the node-to-node HTTP route that serves a replicated partition's batches to a
// replica installing a snapshot: GET SegmentsPath?group=G&from=F&to=T.
const SegmentsPath = "/internal/v1/segments"

// segmentAuthSkew is how far a request's time may be from the server's clock.
const segmentAuthSkew = 5 * time.Minute

// Request authentication with the cluster secret: header X-Tandem-Time (Unix seconds) and
// Authorization "TandemHMAC <hex HMAC-SHA256(secret, "GET\n" + path + "?" + query + "\n" + time)>".
// A request can be replayed within the skew window, but it only reads committed data that the
// same node may read anyway; confidentiality needs TLS between nodes.
const (
	hdrSegTime = "X-Tandem-Time"
	// hdrSegLogStart, on a 416 answer, is the replica's log start when retention deleted the
	// start of the range asked for (LogStartMovedError).
	hdrSegLogStart = "X-Tandem-Log-Start"
	segAuthPrefix  = "TandemHMAC "
)

func segmentMAC(secret []byte, pathQuery, ts string) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "GET\n%s\n%s", pathQuery, ts)
	return m.Sum(nil)
}

// NewSegmentHandler serves SegmentsPath: it authenticates the request with the cluster secret
// and streams ReadRange of the partition lookup returns for the group (nil: 404).
func NewSegmentHandler(secret []byte, lookup func(group uint64) *ReplicatedPartition, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		ts := req.Header.Get(hdrSegTime)
		sec, err := strconv.ParseInt(ts, 10, 64)
		got, herr := hex.DecodeString(trimPrefix(req.Header.Get("Authorization"), segAuthPrefix))
		skew := now().Sub(time.Unix(sec, 0)).Abs()
		if err != nil || herr != nil || skew > segmentAuthSkew ||
			!hmac.Equal(got, segmentMAC(secret, req.URL.EscapedPath()+"?"+req.URL.RawQuery, ts)) {
			http.Error(w, "request not signed with the cluster secret (or the clocks differ by more than 5 minutes)", http.StatusUnauthorized)
			return
		}
		q := req.URL.Query()
		group, err1 := strconv.ParseUint(q.Get("group"), 10, 64)
		from, err2 := strconv.ParseInt(q.Get("from"), 10, 64)
		to, err3 := strconv.ParseInt(q.Get("to"), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			http.Error(w, "group, from and to must be integers", http.StatusBadRequest)
			return
		}
		rp := lookup(group)
		if rp == nil {
			http.Error(w, fmt.Sprintf("no replica of group %d here", group), http.StatusNotFound)
			return
		}
		rc, err := rp.ReadRange(from, to)
		if err != nil {
			var moved *LogStartMovedError
			if errors.As(err, &moved) {
				w.Header().Set(hdrSegLogStart, strconv.FormatInt(moved.Start, 10))
			}
			http.Error(w, err.Error(), http.StatusRequestedRangeNotSatisfiable)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		// A failure mid-stream shows as a short body, which the client refuses.
		_, _ = io.Copy(progressWriter{w: w, rc: http.NewResponseController(w)}, rc)
	})
}

// segmentWriteIdle is how long one write of a segment stream may take. The server's write
// timeout bounds a whole answer, which a large range (a replica catching up on gigabytes)
// cannot meet; a stream that keeps moving goes on, a peer that stops reading is cut off.
const segmentWriteIdle = 30 * time.Second

// progressWriter moves the connection's write deadline forward before each write.
type progressWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (p progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(segmentWriteIdle)) // unsupported: the server's own timeout stays
	return p.w.Write(b)
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return ""
}

// HTTPSegmentSource is the SegmentSource over SegmentsPath: it asks the group's peers in order
// until one serves the range.
type HTTPSegmentSource struct {
	Client *http.Client // default http.DefaultClient
	Secret []byte       // the cluster secret
	// Peers returns the base URLs (e.g. "https://node2:9443") of the nodes that may hold the
	// group, the leader first.
	Peers func(group uint64) []string
	Now   func() time.Time // default time.Now
}

// Fetch implements SegmentSource.
func (s *HTTPSegmentSource) Fetch(ctx context.Context, group uint64, from, to int64) (io.ReadCloser, error) {
	client, now := s.Client, s.Now
	if client == nil {
		client = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	query := url.Values{"group": {strconv.FormatUint(group, 10)}, "from": {strconv.FormatInt(from, 10)},
		"to": {strconv.FormatInt(to, 10)}}.Encode()
	var errs []error
	moved := int64(-1) // the smallest log start past from a peer reported
	for _, base := range s.Peers(group) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+SegmentsPath+"?"+query, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts := strconv.FormatInt(now().Unix(), 10)
		req.Header.Set(hdrSegTime, ts)
		req.Header.Set("Authorization", segAuthPrefix+hex.EncodeToString(segmentMAC(s.Secret, req.URL.EscapedPath()+"?"+req.URL.RawQuery, ts)))
		resp, err := client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp.Body, nil
		}
		if st, err := strconv.ParseInt(resp.Header.Get(hdrSegLogStart), 10, 64); err == nil && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && st > from && (moved < 0 || st < moved) {
			moved = st
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		errs = append(errs, fmt.Errorf("%s: %s: %s", base, resp.Status, msg))
	}
	if len(errs) == 0 {
		return nil, errcode.New(errcode.Unavailable, "no peer is known for group %d", group)
	}
	if moved >= 0 {
		return nil, &LogStartMovedError{From: from, Start: moved, Err: errors.Join(errs...)}
	}
	return nil, errors.Join(errs...)
}
