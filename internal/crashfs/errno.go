package crashfs

import "syscall"

// Errors the real filesystem would give, so callers' errors.Is checks behave alike.
const (
	syscallEISDIR    = syscall.EISDIR
	syscallENOTEMPTY = syscall.ENOTEMPTY
	syscallENOTDIR   = syscall.ENOTDIR
)
