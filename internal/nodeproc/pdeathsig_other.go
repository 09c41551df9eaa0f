//go:build !linux

package nodeproc

import "syscall"

// childAttrs: only Linux can tie a child's life to its parent's; elsewhere a supervisor killed
// with SIGKILL leaves its nodes running.
func childAttrs() *syscall.SysProcAttr { return nil }
