// Package linz checks histories of metadata operations against a sequential specification
// with porcupine (github.com/anishathalye/porcupine), so tests can say whether what clients
// saw of a node, or of a region's nodes (Input.Node says which one answered a call), under
// kills is linearizable.
//
// It owns:
//   - the operations (Input: create/delete/get hub, create/delete/list consumer groups,
//     set/get checkpoint) and their outcomes (Output), in the terms of the HTTP API's answers
//     (201 Created, 200 OK, 404 NotFound, 409 Conflict, 400 InvalidArgument, PartitionNotFound)
//     plus Unknown for a call that got no answer (a timeout or a connection error);
//   - the sequential model of one event hub (State, Model), partitioned by hub so checking
//     stays fast;
//   - a Recorder that timestamps calls and returns on the monotonic clock from many client
//     goroutines, and Check, which runs porcupine with a timeout and writes its visualisation.
//
// It must not know how operations reach the system under test: issuing them (the client SDK,
// a node, a cluster) and mapping errors to outcomes is the runner's business (internal/e2e).
// The model encodes what the API promises, not what the implementation happens to do: a
// divergence is a finding, never a reason to loosen the model silently.
package linz
