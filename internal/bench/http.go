package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// The HTTP produce phase: Tandem's HTTP send API (POST …/eventhubs/{hub}/messages) driven with
// JSON arrays of events, so its cost per event can be compared with the Kafka path's (issue
// 17). Each event's body is a JSON string of RecordSize printable bytes; latency is per request.

// DefaultHTTPBatch is the number of events per HTTP send request when Options.HTTPBatch is 0.
const DefaultHTTPBatch = 100

// httpTarget is where and how the HTTP phase sends.
type httpTarget struct {
	url    string // the hub's messages URL
	hubURL string
	authz  string // Authorization header value, "" for anonymous dev access
	client *http.Client
}

func newHTTPTarget(o Options) (*httpTarget, error) {
	ns, authz := "default", ""
	if o.SASLPassword != "" {
		cs, err := auth.ParseConnectionString(o.SASLPassword)
		if err != nil {
			return nil, fmt.Errorf("bench: the connection string: %w", err)
		}
		ns = cs.Namespace()
		host := strings.TrimSuffix(strings.TrimPrefix(cs.Endpoint, "sb://"), "/")
		authz = auth.NewSASToken("sb://"+host+"/"+o.Topic, cs.SharedAccessKeyName, cs.SharedAccessKey, time.Now().Add(24*time.Hour))
	}
	hub := strings.TrimRight(o.HTTP, "/") + "/namespaces/" + ns + "/eventhubs/" + o.Topic
	tr := &http.Transport{MaxIdleConnsPerHost: o.Producers, MaxConnsPerHost: o.Producers}
	return &httpTarget{url: hub + "/messages", hubURL: hub, authz: authz, client: &http.Client{Transport: tr}}, nil
}

func (t *httpTarget) do(ctx context.Context, method, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if t.authz != "" {
		req.Header.Set("Authorization", t.authz)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// ensureHub creates the hub with o.Partitions partitions when asked and it is missing.
func (t *httpTarget) ensureHub(ctx context.Context, o Options) error {
	if o.Partitions <= 0 {
		return nil
	}
	body := fmt.Sprintf(`{"properties":{"partitionCount":%d}}`, o.Partitions)
	code, resp, err := t.do(ctx, http.MethodPut, t.hubURL, []byte(body))
	if err != nil {
		return fmt.Errorf("bench: creating event hub %s: %w", o.Topic, err)
	}
	if code/100 != 2 && code != http.StatusConflict {
		return fmt.Errorf("bench: creating event hub %s: HTTP %d: %s", o.Topic, code, clipBody(resp))
	}
	return nil
}

// httpBody is a send request of n events whose bodies are JSON strings of size bytes.
func httpBody(n, size int) []byte {
	filler := make([]byte, size)
	for i := range filler {
		filler[i] = 'a' + byte(i%26)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"body":"`)
		b.Write(filler)
		b.WriteString(`"}`)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// produceHTTP runs the produce phase over HTTP: o.Producers goroutines, each with one
// request in flight, until the record budget or the duration is used up.
func produceHTTP(ctx context.Context, o Options, t *httpTarget) (*Phase, error) {
	batch := o.HTTPBatch
	if batch <= 0 {
		batch = DefaultHTTPBatch
	}
	body := httpBody(batch, o.RecordSize)
	var (
		acked, claimed atomic.Int64
		lat            Histogram
		mu             sync.Mutex
		first          error
	)
	began := time.Now()
	deadline := began.Add(o.Duration)
	var wg sync.WaitGroup
	for range o.Producers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if o.Records > 0 && claimed.Add(int64(batch)) > o.Records {
					return
				}
				if o.Records == 0 && time.Now().After(deadline) {
					return
				}
				start := time.Now()
				code, resp, err := t.do(ctx, http.MethodPost, t.url, body)
				if err == nil && code != http.StatusCreated {
					err = fmt.Errorf("HTTP %d: %s", code, clipBody(resp))
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				lat.Record(time.Since(start))
				acked.Add(int64(batch))
			}
		})
	}
	wg.Wait()
	n := acked.Load()
	p := NewPhase(n, n*int64(o.RecordSize), time.Since(began), &lat)
	if first != nil {
		return p, fmt.Errorf("bench: HTTP send to %s: %w", o.Topic, first)
	}
	return p, nil
}

func clipBody(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(bytes.TrimSpace(b))
}

// runHTTP is Run for an HTTP target: produce only.
func runHTTP(ctx context.Context, o Options, res Result) (Result, error) {
	if o.Mode != ModeProduce {
		return res, fmt.Errorf("bench: over HTTP only --mode produce is measured, not %q", o.Mode)
	}
	t, err := newHTTPTarget(o)
	if err != nil {
		return res, err
	}
	defer t.client.CloseIdleConnections()
	if err := t.ensureHub(ctx, o); err != nil {
		return res, err
	}
	res.Partitions = o.Partitions
	res.Produce, err = produceHTTP(ctx, o, t)
	return res, err
}
