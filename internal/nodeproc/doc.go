// Package nodeproc starts and supervises `tandem serve` child processes: the one supervisor of
// node processes that `tandem dev`, `tandem drill` and the process-level tests (internal/e2e)
// share.
//
// It owns:
//   - a node's description (Spec): the executable, its serve flags, its data directory, its
//     listen addresses and its log file, and the command line they make;
//   - starting a node as a child process with stdout and stderr in its log file (Start);
//   - reading serve's ready line, in its plaintext form and its TLS form
//     (`kafka-tls=… api=https`, with `kafka=off` for a listener turned off), with the AMQP
//     listeners (`amqp=…`, and `amqps=…` with TLS) (ParseReady,
//     Process.WaitReady);
//   - kill -9, SIGSTOP, SIGCONT and graceful stop (SIGTERM, then SIGKILL after a grace period)
//     of the processes it started, by their pid, never by name (Process.Kill, Pause, Resume,
//     Terminate, Stop);
//   - restarting a node on the ports it had (Process.RestartSpec, Process.Restart);
//   - how a process exited and the tail of its log (Process.ExitError, Process.LogTail);
//   - building the tandem binary for process-level tests (BuildTandem).
//
// It must not know what runs inside a node: regions' contents, aliases, namespaces, jobs or
// the API are its callers' business, and so is what a node's death means. It signals only
// processes it started: every signal goes through the os.Process of the child (a pidfd on
// Linux), so a pid reused after the child has exited is never signalled.
//
// A node is a Spec (args + data directory + addresses); a Process is one run of it. Several
// nodes of one region (a cluster) are several Specs with their own data directories and
// ports; a group helper over them can be built on this package later.
package nodeproc
