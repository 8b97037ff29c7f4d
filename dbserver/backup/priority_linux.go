package backup

import (
	"runtime"
	"syscall"
)

// runNiced runs fn on an OS thread of its own whose niceness is raised by nice (at most to
// 19), so that the kernel gives the CPU to the dbserver's other threads (the requests, the
// committer) first when they want it, and to the backup when they do not. The thread is
// never handed back to the Go runtime: it ends with fn's goroutine, so no other goroutine
// ever runs at the lowered priority. A failure to change the priority is ignored: fn runs
// at the caller's priority then.
func runNiced(nice int, fn func()) {
	if nice <= 0 {
		fn()
		return
	}
	var panicked any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		runtime.LockOSThread() // never unlocked: see above
		tid := syscall.Gettid()
		if prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil {
			// The raw system call answers 20 - niceness.
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(19, 20-prio+nice))
		}
		fn()
	}()
	<-done
	if panicked != nil {
		panic(panicked)
	}
}
