package linz

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func in(k Kind, hub string) Input { return Input{Kind: k, Hub: hub} }

func createHub(hub string, n int32) Input { return Input{Kind: CreateHub, Hub: hub, Partitions: n} }
func createGroup(hub, g, meta string) Input {
	return Input{Kind: CreateGroup, Hub: hub, Group: g, Meta: meta}
}
func deleteGroup(hub, g string) Input { return Input{Kind: DeleteGroup, Hub: hub, Group: g} }
func setCP(hub, g string, p int32, off int64) Input {
	return Input{Kind: SetCheckpoint, Hub: hub, Group: g, Partition: p, Offset: off}
}
func getCP(hub, g string, p int32) Input {
	return Input{Kind: GetCheckpoint, Hub: hub, Group: g, Partition: p}
}

func res(r Result) Output             { return Output{Result: r} }
func parts(r Result, n int32) Output  { return Output{Result: r, Partitions: n} }
func offset(off int64) Output         { return Output{Result: OK, Offset: off} }
func groups(names ...string) Output   { return Output{Result: OK, Groups: groupsOf(names...)} }
func groupsOf(pairs ...string) string { return joinPairs(pairs) }
func joinPairs(pairs []string) string {
	names, metas := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		for j := 0; j < len(p); j++ {
			if p[j] == '=' {
				names[i], metas[i] = p[:j], p[j+1:]
				break
			}
		}
	}
	return Groups(names, metas)
}

// op is one operation of a hand-written history; ret < 0 is no answer (return at infinity).
func op(client int, call, ret int64, i Input, o Output) porcupine.Operation {
	if ret < 0 {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: i, Call: call, Output: o, Return: ret}
}

func TestHistories(t *testing.T) {
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"sequential lifecycle", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 2), parts(Created, 2)),
			op(0, 2, 3, createGroup("a", "g", "m"), res(Created)),
			op(0, 4, 5, setCP("a", "g", 1, 7), offset(7)),
			op(0, 6, 7, getCP("a", "g", 1), offset(7)),
			op(0, 8, 9, getCP("a", "g", 0), res(NotFound)),
			op(0, 10, 11, setCP("a", "g", 2, 7), res(NoPartition)),
			op(0, 12, 13, createHub("a", 3), parts(OK, 3)),
			op(0, 14, 15, getCP("a", "g", 1), offset(7)),
			op(0, 16, 17, createHub("a", 1), res(Invalid)),
			op(0, 18, 19, in(ListGroups, "a"), groups("$Default=", "g=m")),
			op(0, 20, 21, createGroup("a", "g", "other"), res(Conflict)),
			op(0, 22, 23, createGroup("a", "g", "m"), res(OK)),
			op(0, 24, 25, deleteGroup("a", "$Default"), res(Invalid)),
			op(0, 26, 27, deleteGroup("a", "g"), res(OK)),
			op(0, 28, 29, createGroup("a", "g", "m"), res(Created)),
			op(0, 30, 31, getCP("a", "g", 1), res(NotFound)), // deleted with its group
			op(0, 32, 33, in(DeleteHub, "a"), res(OK)),
			op(0, 34, 35, in(GetHub, "a"), res(NotFound)),
			op(0, 36, 37, in(DeleteHub, "a"), res(NotFound)),
		}, porcupine.Ok},
		{"concurrent creates: one 201, one 200", []porcupine.Operation{
			op(0, 0, 10, createHub("a", 1), parts(OK, 1)),
			op(1, 1, 9, createHub("a", 1), parts(Created, 1)),
		}, porcupine.Ok},
		{"both creates 201 is not linearizable", []porcupine.Operation{
			op(0, 0, 10, createHub("a", 1), parts(Created, 1)),
			op(1, 1, 9, createHub("a", 1), parts(Created, 1)),
		}, porcupine.Illegal},
		{"stale read after delete returned", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 3, in(DeleteHub, "a"), res(OK)),
			op(1, 4, 5, in(GetHub, "a"), parts(OK, 1)),
		}, porcupine.Illegal},
		{"read concurrent with delete may see either", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 6, in(DeleteHub, "a"), res(OK)),
			op(1, 3, 4, in(GetHub, "a"), parts(OK, 1)),
			op(2, 3, 5, in(GetHub, "a"), res(NotFound)),
		}, porcupine.Ok},
		{"a read cannot go back in time", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 10, in(DeleteHub, "a"), res(OK)),
			op(1, 3, 4, in(GetHub, "a"), res(NotFound)),
			op(1, 5, 6, in(GetHub, "a"), parts(OK, 1)),
		}, porcupine.Illegal},
		{"lost acknowledged checkpoint", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 3, setCP("a", DefaultGroup, 0, 5), offset(5)),
			op(1, 4, 5, getCP("a", DefaultGroup, 0), res(NotFound)),
		}, porcupine.Illegal},
		{"unanswered write may take effect later", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, -1, setCP("a", DefaultGroup, 0, 5), res(Unknown)),
			op(1, 10, 11, getCP("a", DefaultGroup, 0), res(NotFound)),
			op(1, 12, 13, getCP("a", DefaultGroup, 0), offset(5)),
		}, porcupine.Ok},
		{"unanswered write that never happened", []porcupine.Operation{
			op(0, 0, -1, createHub("a", 1), res(Unknown)),
			op(1, 10, 11, in(GetHub, "a"), res(NotFound)),
		}, porcupine.Ok},
		{"unanswered write cannot be undone", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, -1, setCP("a", DefaultGroup, 0, 5), res(Unknown)),
			op(1, 10, 11, getCP("a", DefaultGroup, 0), offset(5)),
			op(1, 12, 13, getCP("a", DefaultGroup, 0), res(NotFound)),
		}, porcupine.Illegal},
		{"checkpoints die with their group", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 3, createGroup("a", "g", ""), res(Created)),
			op(0, 4, 5, setCP("a", "g", 0, 9), offset(9)),
			op(0, 6, 7, deleteGroup("a", "g"), res(OK)),
			op(0, 8, 9, createGroup("a", "g", ""), res(Created)),
			op(1, 10, 11, getCP("a", "g", 0), offset(9)),
		}, porcupine.Illegal},
		{"hubs are independent", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(1, 0, 1, createHub("b", 2), parts(Created, 2)),
			op(0, 2, 3, in(GetHub, "b"), parts(OK, 2)),
			op(1, 2, 3, in(DeleteHub, "a"), res(OK)),
			op(0, 4, 5, createHub("a", 4), parts(Created, 4)),
		}, porcupine.Ok},
		{"a list must show a group created before it", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 3, createGroup("a", "g", "x"), res(Created)),
			op(1, 4, 5, in(ListGroups, "a"), groups("$Default=")),
		}, porcupine.Illegal},
		{"grow is seen by later reads", []porcupine.Operation{
			op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
			op(0, 2, 3, createHub("a", 2), parts(OK, 2)),
			op(1, 4, 5, setCP("a", DefaultGroup, 1, 1), res(NoPartition)),
		}, porcupine.Illegal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.want == porcupine.Ok {
				dir = t.TempDir() // a failure leaves its picture
			}
			v, err := Check(context.Background(), Spec{}, tc.history, 10*time.Second, dir)
			if err != nil {
				t.Fatal(err)
			}
			if v.Result != tc.want {
				t.Fatalf("Check = %v, want %v (visualisation: %s)", v.Result, tc.want, v.HTML)
			}
		})
	}
}

// TestCheckWritesVisualisation checks that a history that is not linearizable leaves the
// visualisation where Check says.
func TestCheckWritesVisualisation(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 1, createHub("a", 1), parts(Created, 1)),
		op(1, 2, 3, createHub("a", 1), parts(Created, 1)),
	}
	v, err := Check(context.Background(), Spec{}, h, 10*time.Second, t.TempDir())
	if err != nil || v.Result != porcupine.Illegal {
		t.Fatalf("Check = %+v, %v; want Illegal", v, err)
	}
	if st, err := os.Stat(v.HTML); err != nil || st.Size() == 0 {
		t.Fatalf("visualisation %q: %v", v.HTML, err)
	}
}

func TestRecorderUnknown(t *testing.T) {
	r := NewRecorder()
	r.Call(0, in(GetHub, "a")).Return(res(Unknown))   // dropped: a read without answer
	r.Call(1, createHub("a", 1)).Return(res(Unknown)) // kept, return at infinity
	r.Call(2, in(GetHub, "a")).Return(parts(OK, 1))   // kept
	h := r.History()
	if len(h) != 2 || h[0].Return != math.MaxInt64 || h[1].Return == math.MaxInt64 || h[1].Call > h[1].Return {
		t.Fatalf("history = %+v", h)
	}
}

// TestNodeIsNotPartOfTheModel checks that the node a call went to shows in its description
// and changes nothing in the check: any node answers for the whole region.
func TestNodeIsNotPartOfTheModel(t *testing.T) {
	get := in(GetHub, "a")
	get.Node = 2
	if s := get.String(); s != "GetHub(a)@n2" {
		t.Errorf("String() = %q, want GetHub(a)@n2", s)
	}
	create := createHub("a", 1)
	create.Node = 1
	h := []porcupine.Operation{
		op(0, 0, 1, create, parts(Created, 1)),
		op(1, 2, 3, get, parts(OK, 1)),
	}
	if v, err := Check(context.Background(), Spec{}, h, 10*time.Second, ""); err != nil || v.Result != porcupine.Ok {
		t.Fatalf("Check = %v, %v; want Ok", v.Result, err)
	}
	h[1].Output = res(NotFound) // a stale read through another node
	if v, _ := Check(context.Background(), Spec{}, h, 10*time.Second, ""); v.Result != porcupine.Illegal {
		t.Fatalf("a read through node 2 missing a hub created through node 1 checked %v, want Illegal", v.Result)
	}
}
