package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream"
)

// The job's query writes the same windowed counts to three outputs: SQLite, PostgreSQL and a
// JSON-lines file.
const crashQuery = `WITH counts AS (
	SELECT key, COUNT(*) AS n, SUM(v) AS total, System.Timestamp() AS windowEnd
	FROM readings TIMESTAMP BY t GROUP BY key, TumblingWindow(second, 2))
SELECT * INTO lite FROM counts
SELECT * INTO pg FROM counts
SELECT * INTO lines FROM counts`

type crashEvent struct {
	key  string
	body []byte
}

// crashEvents makes n events over 10 keys, 50 ms apart in event time from base.
func crashEvents(base time.Time, from, n int) []crashEvent {
	out := make([]crashEvent, 0, n)
	for i := from; i < from+n; i++ {
		k := fmt.Sprintf("k%d", i%10)
		t := base.Add(time.Duration(i) * 50 * time.Millisecond).Format(time.RFC3339Nano)
		out = append(out, crashEvent{key: k, body: fmt.Appendf(nil, `{"key":%q,"v":%d,"t":%q}`, k, i, t)})
	}
	return out
}

func produceEvents(t *testing.T, addr string, evs []crashEvent) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("readings"), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		recs[i] = &kgo.Record{Key: []byte(e.key), Value: e.body}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// expectedRows runs the query over the events in the engine, in one partition, in order: by
// the determinism property this is what the job must write, whatever the partitioning.
func expectedRows(t *testing.T, evs []crashEvent) map[string][]stream.Row {
	e, err := stream.Compile(crashQuery, stream.Options{LateArrival: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]stream.Row{}
	for _, ev := range evs {
		v, err := sqlval.ParseJSON(ev.body)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := e.Push(stream.Event{Input: "readings", Value: v})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[r.Output] = append(out[r.Output], r)
		}
	}
	return out
}

func readSink(t *testing.T, url, output string) []sink.Row {
	t.Helper()
	ctx := context.Background()
	s, err := sink.Open(ctx, url, output)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var all []sink.Row
	after := sink.Position{Time: -1 << 62}
	for {
		rows, err := s.ReadAfter(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			return all
		}
		all = append(all, rows...)
		after = rows[len(rows)-1].Pos()
	}
}

// TestJobExactlyOnceAcrossKill9 runs a job over a real event hub, kills the server with
// SIGKILL while windows are open, restarts it, and checks that every output holds exactly the
// rows the engine computes for the events: none missing, none twice, none different.
func TestJobExactlyOnceAcrossKill9(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, filepath.Join(dir, "node"), "--dev")
	n.cli(t, "", "hub", "create", "default/readings", "--partitions", "2")
	outs := map[string]string{
		"lite":  "sqlite://" + filepath.Join(dir, "out.db"),
		"pg":    sinktest.Postgres(t),
		"lines": "file://" + filepath.Join(dir, "out.jsonl"),
	}
	qf := filepath.Join(dir, "q.saql")
	if err := os.WriteFile(qf, []byte(crashQuery), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"job", "create", "counter", "--query-file", qf, "--input", "readings=default/readings", "--late-arrival", "1h"}
	for name, url := range outs {
		args = append(args, "--output", name+"="+url)
	}
	n.cli(t, "", args...)
	n.cli(t, "", "job", "start", "counter", "--from", "start")

	base := time.Now().UTC().Truncate(time.Second)
	first := crashEvents(base, 0, 2000) // 100 s of event time
	produceEvents(t, n.KafkaAddr, first)
	// Wait until the job has written some windows (and so checkpointed), then kill it while
	// later windows are open.
	waitFor(t, 60*time.Second, "the first rows", func() (bool, string) {
		got := len(readSink(t, outs["lite"], "lite"))
		return got >= 50, fmt.Sprintf("%d rows", got)
	})
	n.kill9()
	n.restart()

	second := crashEvents(base, 2000, 1000)
	produceEvents(t, n.KafkaAddr, second)
	all := append(first, second...)
	want := expectedRows(t, all)
	if len(want["lite"]) < 500 {
		t.Fatalf("the engine gives only %d rows; the test needs more windows", len(want["lite"]))
	}
	for name, url := range outs {
		waitFor(t, 90*time.Second, name+" rows", func() (bool, string) {
			got := len(readSink(t, url, name))
			return got >= len(want[name]), fmt.Sprintf("%d of %d rows", got, len(want[name]))
		})
		checkSameRows(t, name, readSink(t, url, name), want[name])
	}
	show := n.cli(t, "", "job", "show", "counter", "-o", "json")
	var info struct {
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(show), &info); err != nil || info.Status.State != "Running" {
		t.Fatalf("job show after the restart: %v\n%s", err, show)
	}
	resp, err := http.Get("http://" + n.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, m := range []string{`tandem_job_running{job="counter"} 1`, `tandem_job_input_events_total{job="counter"}`,
		`tandem_job_output_rows_total{job="counter"}`, `tandem_job_watermark_delay_seconds{job="counter"}`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func checkSameRows(t *testing.T, output string, got []sink.Row, want []stream.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", output, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		var gv, wv map[string]any
		if err := json.Unmarshal(g.Data, &gv); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(w.JSON, &wv); err != nil {
			t.Fatal(err)
		}
		if g.Time != w.Time || g.Key != w.Key || !reflect.DeepEqual(gv, wv) {
			t.Fatalf("%s row %d: got (%d, %s) %s, want (%d, %s) %s", output, i, g.Time, g.Key, g.Data, w.Time, w.Key, w.JSON)
		}
	}
}
