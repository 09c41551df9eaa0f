package nodeproc

import "syscall"

// childAttrs asks the kernel to send the node SIGTERM when the process that started it dies,
// so a supervisor killed with SIGKILL (tandem dev, a test binary at its timeout) does not
// leave its nodes running with their ports and data directories held. SIGTERM lets the node
// shut down as it does on Ctrl-C. The signal follows the thread that started the child; Go
// only ends a thread when a goroutine locked to it exits, which nodeproc never does.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
