//go:build unix

package broker

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE, or a large number when it is unlimited or unknown.
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 1 << 20
	}
	return int(r.Cur)
}
