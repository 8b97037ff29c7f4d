package backup

import (
	"runtime"
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE scheduling policy (sched.h).
const schedIdle = 5

// The idle I/O priority class for one thread: ioprio_set(IOPRIO_WHO_PROCESS, tid,
// IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) (linux/ioprio.h).
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
	ioprioClassIdle  = 3
	ioprioIdle       = ioprioClassIdle << ioprioClassShift
)

// runNiced runs fn on an OS thread of its own whose niceness is raised by nice (at most to 19),
// whose scheduling policy is SCHED_IDLE and whose I/O priority class is idle, so that the kernel
// gives the CPU and the disk to the dbserver's other threads (the requests, the committer) first
// when they want them, and to the backup when they do not. The thread is never handed back to the
// Go runtime: it ends with fn's goroutine, so no other goroutine ever runs at the lowered priority.
// A failure to change the priority is ignored: fn runs at the caller's priority then.
//
// Niceness alone was not enough (make bench-backup; the README has the figures): the writers
// wait on fsync and wake up many times a millisecond, and a thread waking on a 2-core machine
// whose CPUs both run something is queued behind a niced thread's time slice more often than
// not. A CPU that runs only SCHED_IDLE threads counts as idle when the kernel places a waking
// thread, so the writers get the backup's CPU at once. The niceness stays for kernels or
// sandboxes that refuse the policy.
//
// The idle I/O class applies to the I/O the thread issues itself: WriteFile's direct writes of
// the archive, and reads of the database file that miss the page cache. A block scheduler that
// honors it (mq-deadline, BFQ) serves the database's commits first; mq-deadline still serves
// an idle request that has waited prio_aging_expire (10 s by default).
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
		var param struct{ priority int32 } // struct sched_param; 0 is the only valid value
		_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param)))
		_, _, _ = syscall.RawSyscall(syscall.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioIdle)
		fn()
	}()
	<-done
	if panicked != nil {
		panic(panicked)
	}
}
