package linz

import (
	"context"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestDeviations checks each known deviation: the history is Illegal under the API's
// promise and Ok only with its flag.
func TestDeviations(t *testing.T) {
	hub := op(0, 0, 1, createHub("a", 1), parts(Created, 1))
	tests := []struct {
		name    string
		allow   Deviations
		history []porcupine.Operation
	}{
		{"PUT hub answers 404 racing a delete", Deviations{PutHubReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 10, createHub("a", 2), res(NotFound)),
			op(1, 3, 4, in(DeleteHub, "a"), res(OK)),
		}},
		{"PUT hub answers a concurrent grow", Deviations{PutHubReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 10, createHub("a", 1), parts(OK, 3)),
			op(1, 3, 4, createHub("a", 3), parts(OK, 3)),
		}},
		{"PUT group answers 404 racing a delete", Deviations{PutGroupReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 3, createGroup("a", "g", ""), res(Created)),
			op(0, 4, 10, createGroup("a", "g", ""), res(NotFound)),
			op(1, 5, 6, deleteGroup("a", "g"), res(OK)),
		}},
		{"PUT checkpoint answers a concurrent writer's offset", Deviations{PutCheckpointReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 10, setCP("a", DefaultGroup, 0, 1), offset(2)),
			op(1, 3, 4, setCP("a", DefaultGroup, 0, 2), offset(2)),
		}},
		{"PUT checkpoint answers 404 after committing", Deviations{PutCheckpointReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 10, setCP("a", DefaultGroup, 0, 553), res(NotFound)),
			op(1, 3, 4, getCP("a", DefaultGroup, 0), offset(553)),
			op(2, 5, 6, in(DeleteHub, "a"), res(OK)),
		}},
		{"PUT checkpoint recreates a deleted group", Deviations{PutCheckpointReread: true}, []porcupine.Operation{
			hub,
			op(0, 2, 3, createGroup("a", "g", "m"), res(Created)),
			op(0, 4, 5, deleteGroup("a", "g"), res(OK)),
			op(1, 6, 7, setCP("a", "g", 0, 3), offset(3)),
			op(1, 8, 9, in(ListGroups, "a"), groups("$Default=", "g=")),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				allow Deviations
				want  porcupine.CheckResult
			}{{Deviations{}, porcupine.Illegal}, {tc.allow, porcupine.Ok}, {All, porcupine.Ok}} {
				v, err := Check(context.Background(), Spec{Deviations: c.allow}, tc.history, 10*time.Second, "")
				if err != nil || v.Result != c.want {
					t.Errorf("with %+v: %v, %v; want %v", c.allow, v.Result, err, c.want)
				}
			}
		})
	}
}

// TestDeviationsStayNarrow checks that allowing every deviation still finds the plain
// violations of TestHistories.
func TestDeviationsStayNarrow(t *testing.T) {
	for _, h := range [][]porcupine.Operation{
		{op(0, 0, 1, createHub("a", 1), parts(Created, 1)), op(1, 2, 3, createHub("a", 1), parts(Created, 1))},
		{op(0, 0, 1, createHub("a", 1), parts(Created, 1)), op(0, 2, 3, setCP("a", DefaultGroup, 0, 5), offset(5)),
			op(1, 4, 5, getCP("a", DefaultGroup, 0), res(NotFound))},
		{op(0, 0, 1, createHub("a", 1), parts(Created, 1)), op(0, 2, 3, createGroup("a", "g", ""), res(Created)),
			op(1, 4, 5, createHub("a", 1), res(NotFound))}, // a 404 to PUT hub needs the hub absent
	} {
		if v, _ := Check(context.Background(), Spec{Deviations: All}, h, 10*time.Second, ""); v.Result != porcupine.Illegal {
			t.Errorf("%v: %v, want Illegal", h, v.Result)
		}
	}
}
