package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/linz"
)

// The key space of the linearizability run: small, so clients collide on the same entities.
var (
	linzHubs   = []string{"h0", "h1", "h2"}
	linzGroups = []string{linz.DefaultGroup, "g0", "g1"}
	linzMetas  = []string{"", "m"}
)

const linzNamespace = "linz-ns"

// TestMetadataLinearizable has several clients issue random metadata operations (hubs,
// consumer groups, checkpoints) over the HTTP API while the node is killed with SIGKILL and
// restarted a few times, and checks the history with porcupine against internal/linz's model.
// TANDEM_LINZ_SOAK=<duration> (e.g. 10m) runs longer; TANDEM_LINZ_SEED fixes the operations'
// seed (the interleaving is the machine's); TANDEM_LINZ_GAP is the most a client waits between
// operations (default 4ms; 0 for none: ~4x the operations and far more races, which is what
// finds the stale hub index of broker.refreshHubs, but a history that can take porcupine
// minutes). On failure the visualisation's path is printed.
func TestMetadataLinearizable(t *testing.T) {
	run, kills, gap, seed := linzParams(t, 30*time.Second, 4, 7*time.Second)

	n := startNode(t, t.TempDir())
	key, err := os.ReadFile(filepath.Join(n.data, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	st := &statusTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	cl, err := client.New(n.URL(), client.WithAdminKey(string(key)), client.WithHTTPClient(&http.Client{Transport: st}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), run+2*time.Minute)
	defer cancel()
	if _, err := cl.CreateNamespace(ctx, linzNamespace, client.NamespaceOptions{}); err != nil {
		t.Fatal(err)
	}

	rec := linz.NewRecorder()
	finish := startLinzClients(ctx, []*client.Client{cl}, 4, seed, gap, rec)
	killer := rand.New(rand.NewPCG(seed, 99))
	for range kills {
		pace(ctx, run/time.Duration(kills+1)/2+time.Duration(killer.Int64N(int64(run/time.Duration(kills+1)))))
		n.kill9()
		n.restart()
	}
	pace(ctx, run/time.Duration(kills+1)/2)
	total := finish()
	t.Logf("%d operations: %d answered, %d without answer, %d refused (node down, dropped)",
		total.answered+total.unknown+total.refused, total.answered, total.unknown, total.refused)
	if total.answered < 200 {
		t.Fatalf("only %d answered operations; the run proves little", total.answered)
	}

	history := rec.History()
	// The API's promise, with no deviation allowed: PUT hub, group and checkpoint answer
	// from their own write.
	checkLinearizable(t, linz.Spec{}, history)
	mutationsFail(t, history)
}

// linzParams reads the run's parameters from the environment (TANDEM_LINZ_SOAK, _GAP, _SEED),
// with run and kills the defaults; a soak kills once per every. It logs them.
func linzParams(t *testing.T, run time.Duration, kills int, every time.Duration) (time.Duration, int, time.Duration, uint64) {
	t.Helper()
	if s := os.Getenv("TANDEM_LINZ_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("TANDEM_LINZ_SOAK=%q: %v", s, err)
		}
		run, kills = d, int(d/every)
	}
	gap := 4 * time.Millisecond
	if s := os.Getenv("TANDEM_LINZ_GAP"); s != "" {
		var err error
		if gap, err = time.ParseDuration(s); err != nil {
			t.Fatalf("TANDEM_LINZ_GAP=%q: %v", s, err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TANDEM_LINZ_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TANDEM_LINZ_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (TANDEM_LINZ_SEED), run %v with %d faults, gap %v", seed, run, kills, gap)
	return run, kills, gap, seed
}

// pace waits d, the time between faults; nothing waits for it to be done.
func pace(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// checkLinearizable fails the test when history is not linearizable (or the check times out),
// leaving porcupine's visualisation in a directory that outlives the test.
func checkLinearizable(t *testing.T, sp linz.Spec, history []porcupine.Operation) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tandem-linz-")
	if err != nil {
		t.Fatal(err)
	}
	v, err := linz.Check(context.Background(), sp, history, 2*time.Minute, dir)
	if err != nil {
		t.Error(err)
	}
	t.Logf("porcupine: %v for %d operations in %v", v.Result, v.Ops, v.Took.Round(time.Millisecond))
	if v.Result != porcupine.Ok {
		t.Fatalf("the history is not linearizable (%v); visualisation: %s; history: %s (check it again with TANDEM_LINZ_HISTORY=%[3]s go test -run TestRecheckHistory ./internal/linz/)\n%s",
			v.Result, v.HTML, v.Saved, v.Why)
	}
	os.RemoveAll(dir)
}

// mutationsFail checks that the check can fail: the recorded history with one answer made
// wrong, and the real history against a wrong model, must both be found not linearizable.
func mutationsFail(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	bad := append([]porcupine.Operation(nil), history...)
	changed := false
	for i := 0; i < len(bad) && !changed; i++ { // the first answered GetHub claims 99 partitions
		if in, out := bad[i].Input.(linz.Input), bad[i].Output.(linz.Output); in.Kind == linz.GetHub && out.Result == linz.OK {
			out.Partitions = 99
			bad[i].Output, changed = out, true
		}
	}
	if !changed {
		t.Fatal("no answered GetHub in the history to make wrong")
	}
	if v, _ := linz.Check(context.Background(), linz.Spec{}, bad, time.Minute, ""); v.Result != porcupine.Illegal {
		t.Errorf("a history with a GetHub answering 99 partitions checked %v, want Illegal", v.Result)
	} else {
		t.Logf("mutation: a GetHub answering 99 partitions: %v in %v", v.Result, v.Took.Round(time.Millisecond))
	}
	wrong := linz.Spec{Apply: func(s linz.State, in linz.Input) (linz.Output, linz.State) {
		out, next := linz.Apply(s, in)
		if in.Kind == linz.DeleteHub { // a wrong spec: DeleteHub forgets nothing
			next = s
		}
		return out, next
	}}
	if v, _ := linz.Check(context.Background(), wrong, history, time.Minute, ""); v.Result != porcupine.Illegal {
		t.Errorf("the history against a model whose DeleteHub keeps the hub checked %v, want Illegal", v.Result)
	} else {
		t.Logf("mutation: a spec whose DeleteHub keeps the hub: %v in %v", v.Result, v.Took.Round(time.Millisecond))
	}
}

type linzCounts struct{ answered, unknown, refused int }

func (c *linzCounts) add(o linzCounts) {
	c.answered += o.answered
	c.unknown += o.unknown
	c.refused += o.refused
}

// startLinzClients starts n clients issuing random operations to nodes (each call to one of
// them at random) and recording them in rec; finish stops them, waits for them and returns
// their counts.
func startLinzClients(ctx context.Context, nodes []*client.Client, n int, seed uint64, gap time.Duration, rec *linz.Recorder) (finish func() linzCounts) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	counts := make([]linzCounts, n)
	for c := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			counts[c] = linzClient(ctx, nodes, rec, c, rng, gap, stop)
		}()
	}
	return func() linzCounts {
		close(stop)
		wg.Wait()
		var total linzCounts
		for _, c := range counts {
			total.add(c)
		}
		return total
	}
}

// linzClient issues random operations until stop is closed, recording each; each goes to one
// of nodes at random (with more than one, Input.Node says which, from 1). Between two
// operations it waits up to gap, at random.
func linzClient(ctx context.Context, nodes []*client.Client, rec *linz.Recorder, id int, rng *rand.Rand, gap time.Duration, stop <-chan struct{}) linzCounts {
	var n linzCounts
	for {
		select {
		case <-stop:
			return n
		case <-ctx.Done():
			return n
		default:
		}
		if gap > 0 {
			pace(ctx, time.Duration(rng.Int64N(int64(gap)))) // ~40k operations in 30 s
		}
		in := randomInput(rng)
		k := rng.IntN(len(nodes))
		if len(nodes) > 1 {
			in.Node = k + 1
		}
		call := rec.Call(id, in)
		out, err := issue(ctx, nodes[k], in)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED): // never reached the node: it did not happen
			n.refused++
			pace(ctx, 20*time.Millisecond)
			continue
		case out.Result == linz.Unknown:
			n.unknown++
		default:
			n.answered++
		}
		call.Return(out)
	}
}

func randomInput(rng *rand.Rand) linz.Input {
	in := linz.Input{Hub: linzHubs[rng.IntN(len(linzHubs))], Group: linzGroups[rng.IntN(len(linzGroups))]}
	switch r := rng.IntN(100); {
	case r < 10:
		in.Kind, in.Partitions = linz.CreateHub, 1+rng.Int32N(3)
	case r < 14:
		in.Kind = linz.DeleteHub
	case r < 24:
		in.Kind = linz.GetHub
	case r < 36:
		in.Kind, in.Meta = linz.CreateGroup, linzMetas[rng.IntN(len(linzMetas))]
	case r < 42:
		in.Kind = linz.DeleteGroup
	case r < 52:
		in.Kind = linz.ListGroups
	case r < 80:
		in.Kind, in.Partition, in.Offset = linz.SetCheckpoint, rng.Int32N(3), rng.Int64N(1000)
	default:
		in.Kind, in.Partition = linz.GetCheckpoint, rng.Int32N(3)
	}
	return in
}

// issue performs in through the client SDK and returns the answer in the model's terms.
func issue(ctx context.Context, cl *client.Client, in linz.Input) (linz.Output, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var status int
	ctx = context.WithValue(ctx, statusKey{}, &status)
	var out linz.Output
	var err error
	switch in.Kind {
	case linz.CreateHub:
		var h client.Hub
		h, err = cl.CreateHub(ctx, linzNamespace, in.Hub, client.HubOptions{Partitions: in.Partitions})
		out.Partitions = h.Partitions
	case linz.DeleteHub:
		err = cl.DeleteHub(ctx, linzNamespace, in.Hub)
	case linz.GetHub:
		var h client.Hub
		h, err = cl.GetHub(ctx, linzNamespace, in.Hub)
		out.Partitions = h.Partitions
	case linz.CreateGroup:
		_, err = cl.CreateConsumerGroup(ctx, linzNamespace, in.Hub, in.Group, in.Meta)
	case linz.DeleteGroup:
		err = cl.DeleteConsumerGroup(ctx, linzNamespace, in.Hub, in.Group)
	case linz.ListGroups:
		var gs []client.ConsumerGroup
		gs, err = cl.ListConsumerGroups(ctx, linzNamespace, in.Hub)
		names, metas := make([]string, len(gs)), make([]string, len(gs))
		for i, g := range gs {
			names[i], metas[i] = g.Name, g.UserMetadata
		}
		out.Groups = linz.Groups(names, metas)
	case linz.SetCheckpoint:
		var cp client.Checkpoint
		cp, err = cl.SetCheckpoint(ctx, linzNamespace, in.Hub, in.Group, in.Partition, in.Offset, "")
		out.Offset = cp.Offset
	case linz.GetCheckpoint:
		var cp client.Checkpoint
		cp, err = cl.GetCheckpoint(ctx, linzNamespace, in.Hub, in.Group, in.Partition)
		out.Offset = cp.Offset
	}
	out.Result = resultOf(status, err)
	if out.Result != linz.OK && out.Result != linz.Created {
		out = linz.Output{Result: out.Result}
	}
	return out, err
}

// resultOf maps an answer of the API to the model's result. No answer (a timeout, a reset
// connection, a 503/504) is Unknown; an error code the model does not know is kept as is,
// so the check fails on it.
func resultOf(status int, err error) linz.Result {
	if err == nil {
		if status == http.StatusCreated {
			return linz.Created
		}
		return linz.OK
	}
	switch code := errcode.CodeOf(err); code {
	case errcode.NotFound:
		return linz.NotFound
	case errcode.Conflict:
		return linz.Conflict
	case errcode.InvalidArgument:
		return linz.Invalid
	case errcode.PartitionNotFound:
		return linz.NoPartition
	case errcode.Unavailable, errcode.Timeout:
		return linz.Unknown
	default:
		return linz.Result(fmt.Sprintf("%s (%v)", code, err))
	}
}

type statusKey struct{}

// statusTransport writes each answer's HTTP status where the request's context asks
// (statusKey): the SDK does not tell 201 from 200, the model does.
type statusTransport struct{ base http.RoundTripper }

func (s *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if p, ok := req.Context().Value(statusKey{}).(*int); ok && err == nil {
		*p = resp.StatusCode
	}
	return resp, err
}
