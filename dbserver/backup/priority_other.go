//go:build !linux

package backup

// runNiced runs fn: thread priorities are changed on Linux only.
func runNiced(_ int, fn func()) { fn() }
