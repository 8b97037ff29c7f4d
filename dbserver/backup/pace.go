package backup

import (
	"context"
	"io"
	"time"
)

// A backup shares two CPUs with the database it copies. At SCHED_IDLE the kernel gives the
// database's threads the CPU first, but the Go runtime does not know that: the backup's
// goroutine keeps one of the process's Ps (GOMAXPROCS) for as long as it runs, descheduled by
// the kernel or not, so the requests and the committer are left one P where they had two, and
// the reading and compressing also take memory bandwidth and caches from them. Measured with
// 16 writers that alone use under one core of two (make bench-backup), backups at full speed
// took 13-46% of their throughput while a fifth of the CPU stayed idle; paced as below, the
// same writers kept all of it within the noise (the README has the figures).
//
// So a backup paces itself while the database works: after each slice of archive data it
// asks the store whether it served writes or reads during the slice, and if so it sleeps as
// long as the slice took (its goroutine parked, its P free). Against a busy database it runs at
// most half the time, so it still ends, in at most about twice its time; against an idle one it
// never sleeps. Its read transaction stays open longer under load, which only delays the reuse
// of pages freed meanwhile.

// paceSlice is the archive data between two looks at the database's activity: a few
// milliseconds of reading, hashing and compressing.
const paceSlice = 1 << 20

// pacer is an io.Writer in front of the archive's data path (see WriteOptions.Activity).
type pacer struct {
	ctx      context.Context
	w        io.Writer
	activity func() int64
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error

	seen    int64     // activity at the slice's start
	start   time.Time // when the slice started
	written int       // bytes written in the slice
	slept   time.Duration
}

func newPacer(ctx context.Context, w io.Writer, activity func() int64) *pacer {
	p := &pacer{ctx: ctx, w: w, activity: activity, now: time.Now, sleep: sleepCtx}
	p.seen, p.start = activity(), p.now()
	return p
}

func (p *pacer) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.written += n
	if err == nil && p.written >= paceSlice {
		err = p.checkpoint()
	}
	return n, err
}

// checkpoint ends a slice: when the database acknowledged writes during it, the backup pauses
// for as long as the slice took.
func (p *pacer) checkpoint() error {
	now := p.now()
	if a := p.activity(); a != p.seen {
		p.seen = a
		d := now.Sub(p.start)
		if err := p.sleep(p.ctx, d); err != nil {
			return err
		}
		p.slept += d
		now = p.now()
	}
	p.start, p.written = now, 0
	return nil
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
