// Package interop holds the end-to-end tests of Tandem's AMQP listener with the real Azure
// Event Hubs SDK for Go (azeventhubs v2, and v1 for its numeric offsets) and, beside it, the
// Kafka protocol with franz-go: one `tandem serve --dev` process is built from this repository
// and started on free loopback ports, hubs are created through Tandem's HTTP API (the public
// client package), and the SDKs connect with emulator-style connection strings
// (Endpoint=sb://127.0.0.1:PORT;…;UseDevelopmentEmulator=true).
//
// The Processor also runs with the SDK's own Blob checkpoint store (checkpoints.BlobStore, over
// azblob) against Azurite, Microsoft's storage emulator, pinned in ../azurite (`npm ci` there
// first; scripts/test does): TestAMQPProcessorBlobStore starts its azurite-blob on a free port
// and skips, saying why, when node or Azurite is missing (it fails instead when CI=true).
//
// It is a module of its own (github.com/tandem-streaming/tandem/interop/go) so that the Azure
// SDKs never enter Tandem's main module. scripts/test runs it after the main module's tests.
//
// Environment:
//   - TANDEM_BIN: a tandem binary to test instead of building ../../cmd/tandem.
//   - TANDEM_INTEROP_KEEP=1: keep the nodes' data directories and logs (their paths are
//     printed).
//   - TANDEM_INTEROP_SERVE_ARGS: more flags for the shared node (such as --pprof).
//   - TANDEM_INTEROP_IDLE: how long TestAMQPIdleReceivers stays idle (default 3m).
//
// The benchmarks (go test -run '^$' -bench . -benchtime 20000x) compare the Go SDK over AMQP
// with franz-go over Kafka against the same process, for 1 KiB events in batches of 100.
package interop
