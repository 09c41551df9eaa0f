package nodeproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Process is one run of a node: a child process started by Start. Its methods may be called
// from any goroutine. It owns one goroutine, which waits for the child and ends when the child
// has exited; Kill and Stop wait for it.
type Process struct {
	spec   Spec
	cmd    *exec.Cmd
	readyc chan struct{} // closed once the ready line has been read; ready is set before
	ready  Ready
	exited chan struct{} // closed once the child has been waited for; waitErr is set before
	// waitErr is the child's exit as exec.Cmd.Wait reports it: nil for status 0.
	waitErr error
}

// ErrLog is wrapped by the error of a Start that could not create the log file.
var ErrLog = errors.New("creating the log file")

// Start starts the node as a child process with its stdout and stderr in spec.Log (truncated
// first). It does not wait for the node to be ready: see WaitReady.
func Start(spec Spec) (*Process, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w of %s: %w", ErrLog, spec.Name, err)
	}
	argv := spec.Command()
	p := &Process{spec: spec, cmd: exec.Command(argv[0], argv[1:]...),
		readyc: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Stdout = &readyWriter{log: logf, found: func(r Ready) { p.ready = r; close(p.readyc) }}
	p.cmd.Stderr = logf
	p.cmd.SysProcAttr = childAttrs()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", spec.Name, argv[0], err)
	}
	go func() {
		err := p.cmd.Wait() // after the child's stdout is copied, so a ready line is never lost
		logf.Close()
		p.waitErr = err
		close(p.exited)
	}()
	return p, nil
}

// Spec is the spec the process was started from.
func (p *Process) Spec() Spec { return p.spec }

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// WaitReady waits for the node's ready line. It returns an *ExitError when the node exits
// first, and context.Cause(ctx) when ctx ends first.
func (p *Process) WaitReady(ctx context.Context) (Ready, error) {
	select { // a node that printed its ready line and exited was ready
	case <-p.readyc:
		return p.ready, nil
	default:
	}
	select {
	case <-p.readyc:
		return p.ready, nil
	case <-p.exited:
		select {
		case <-p.readyc:
			return p.ready, nil
		default:
			return Ready{}, p.ExitError()
		}
	case <-ctx.Done():
		return Ready{}, context.Cause(ctx)
	}
}

// Ready is the node's ready line, and whether it has printed one.
func (p *Process) Ready() (Ready, bool) {
	select {
	case <-p.readyc:
		return p.ready, true
	default:
		return Ready{}, false
	}
}

// Exited is closed once the child has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// HasExited reports whether the child has exited.
func (p *Process) HasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ExitErr is how the child exited, as exec.Cmd.Wait reports it (nil for status 0); call it
// once Exited is closed.
func (p *Process) ExitErr() error {
	<-p.exited
	return p.waitErr
}

// ExitCode is the child's exit status, -1 when a signal ended it; it waits for the exit.
func (p *Process) ExitCode() int {
	<-p.exited
	return p.cmd.ProcessState.ExitCode()
}

// StoppedOnRequest reports whether the child exited as serve does when asked to stop: with
// status 0 (serve handles SIGINT and SIGTERM), or killed by SIGINT or SIGTERM. It waits for
// the exit.
func (p *Process) StoppedOnRequest() bool {
	<-p.exited
	if p.waitErr == nil {
		return true
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM
		}
	}
	return false
}

// signal sends sig to the child. A child that has exited is not signalled: it returns
// os.ErrProcessDone.
func (p *Process) signal(sig syscall.Signal) error {
	if p.HasExited() {
		return os.ErrProcessDone
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL (kill -9) and waits until the child is gone or ctx ends. Killing a child
// that has already exited does nothing.
func (p *Process) Kill(ctx context.Context) error {
	if err := p.signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", p.spec.Name, p.Pid(), err)
	}
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s (pid %d) killed but not gone: %w", p.spec.Name, p.Pid(), context.Cause(ctx))
	}
}

// Pause sends SIGSTOP: the child stops running (and answering) until Resume.
func (p *Process) Pause() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pausing %s (pid %d): %w", p.spec.Name, p.Pid(), err)
	}
	return nil
}

// Resume sends SIGCONT to a paused child.
func (p *Process) Resume() error {
	if err := p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resuming %s (pid %d): %w", p.spec.Name, p.Pid(), err)
	}
	return nil
}

// Terminate asks the child to stop: SIGTERM, and SIGCONT so that a paused child handles it.
// It does not wait; see Stop.
func (p *Process) Terminate() error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return fmt.Errorf("stopping %s (pid %d): %w", p.spec.Name, p.Pid(), err)
	}
	p.signal(syscall.SIGCONT)
	return nil
}

// Stop stops the child gracefully: SIGTERM, then SIGKILL when it has not exited by the time
// ctx ends. It returns once the child is gone, reporting whether it had to be killed.
func (p *Process) Stop(ctx context.Context) (killed bool) {
	p.Terminate()
	select {
	case <-p.exited:
		return false
	case <-ctx.Done():
	}
	p.signal(syscall.SIGKILL)
	<-p.exited
	return true
}

// RestartSpec is the spec of this node with the addresses of its ready line, to start it again
// on the same ports; the spec it was started from when it never was ready.
func (p *Process) RestartSpec() Spec {
	if r, ok := p.Ready(); ok {
		return p.spec.WithAddrs(r)
	}
	return p.spec
}

// Restart starts the node again, after it has exited, on the data and ports it had.
func (p *Process) Restart() (*Process, error) {
	if !p.HasExited() {
		return nil, fmt.Errorf("restarting %s (pid %d): it is still running; stop or kill it first", p.spec.Name, p.Pid())
	}
	return Start(p.RestartSpec())
}

// Logs is the node's log file: its stdout and stderr.
func (p *Process) Logs() string {
	b, _ := os.ReadFile(p.spec.Log)
	return string(b)
}

// LogTail is the last n lines of the node's log.
func (p *Process) LogTail(n int) []string {
	s := strings.TrimRight(p.Logs(), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	return lines[max(0, len(lines)-n):]
}

// ExitError is a node that exited: which one, how, and how its log ends.
type ExitError struct {
	Name string
	Pid  int
	Err  error // how it exited, nil for status 0
	Log  string
	Tail []string // the last lines of the log
}

func (e *ExitError) Error() string {
	how := "exit status 0"
	if e.Err != nil {
		how = e.Err.Error()
	}
	msg := fmt.Sprintf("%s (pid %d) exited (%s); its log is %s", e.Name, e.Pid, how, e.Log)
	if len(e.Tail) > 0 {
		msg += "; it ends with:\n    " + strings.Join(e.Tail, "\n    ")
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// exitTailLines is how much of the log an ExitError quotes.
const exitTailLines = 5

// ExitError describes the child's exit; it waits for it.
func (p *Process) ExitError() *ExitError {
	<-p.exited
	return &ExitError{Name: p.spec.Name, Pid: p.Pid(), Err: p.waitErr, Log: p.spec.Log, Tail: p.LogTail(exitTailLines)}
}
