//go:build !unix

package broker

// openFileLimit is a generous guess where RLIMIT_NOFILE does not exist.
func openFileLimit() int { return 8192 }
