package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A write is a function run inside a bbolt write transaction. It may run more than once (its
// batch can be retried), so it must compute everything from the transaction and its own
// captured, immutable inputs. It records the documents it changes in ch (nil when nobody
// observes commits), which the committer resets before every run.
type writeFn func(tx *bolt.Tx, ch *changes) error

// cleanError marks an error returned before the write function changed anything in the
// transaction: the batch it ran in stays good and commits for the others.
type cleanError struct{ err error }

func (e *cleanError) Error() string { return e.err.Error() }
func (e *cleanError) Unwrap() error { return e.err }

// clean marks err (if not nil) as returned before any change to the transaction.
func clean(err error) error {
	if err == nil {
		return nil
	}
	return &cleanError{err}
}

func unclean(err error) error {
	var ce *cleanError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

type writeReq struct {
	fn      writeFn
	changes *changes
	result  error
	done    chan error
}

// maxBatch bounds how many writes share one commit, so one commit (and the work a failed
// write makes the others redo) stays small.
const maxBatch = 256

// A commit waits for writers expected back (see run) for about two commits' time, within
// these bounds.
const (
	minGather = 100 * time.Microsecond
	maxGather = 2 * time.Millisecond
)

// committer runs writes on one goroutine. Whatever queues up while a commit runs is committed
// together in the next one, and under load one fsync serves many writers. There is no fixed
// delay (bbolt's db.Batch waits up to MaxBatchDelay before a batch starts, which with its 10ms
// default makes 16 writers slower than plain Update); a commit waits only for writers it has
// reason to expect, and not for long (see run).
type committer struct {
	db      *bolt.DB
	log     *slog.Logger
	observe func([]Change) // nil: nobody observes
	queue   chan *writeReq
	done    chan struct{}

	mu     sync.RWMutex // held shared by senders, exclusively by close
	closed bool

	commits atomic.Int64 // transactions committed
	writes  atomic.Int64 // writes acknowledged as committed
}

func newCommitter(db *bolt.DB, log *slog.Logger, observe func([]Change)) *committer {
	c := &committer{db: db, log: log, observe: observe, queue: make(chan *writeReq, maxBatch*4), done: make(chan struct{})}
	go c.run()
	return c
}

// write queues fn and waits until its batch is durably committed (or fn failed).
func (c *committer) write(fn writeFn) error {
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	if c.observe != nil {
		r.changes = &changes{}
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	c.queue <- r
	c.mu.RUnlock()
	return <-r.done
}

// close lets queued writes finish and stops the goroutine.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*writeReq, 0, maxBatch)
	// expect is how many writers the next commit can count on: those the last commit
	// acknowledged (usually on their way back with their next write, an HTTP round trip
	// away) and those that queued while it ran.
	expect := 0
	gather := minGather
	for first := range c.queue {
		batch = append(batch[:0], first)
		open := true
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-c.queue:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// An fsync costs the same for one write or sixteen (and on a virtual disk it costs
		// CPU too), so a commit waits a little for the expected writers rather than leave
		// them to pay for another one. The wait is bounded by about two commits' time: at
		// worst a writer waits one commit longer, as it would have behind the next commit
		// anyway. A lone writer (expect <= 1) never waits.
		if open && len(batch) < expect {
			timer := time.NewTimer(gather)
		gather:
			for len(batch) < expect {
				select {
				case r, ok := <-c.queue:
					if !ok {
						open = false
						break gather
					}
					batch = append(batch, r)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		start := time.Now()
		c.commit(batch)
		gather = min(max(2*time.Since(start), minGather), maxGather)
		expect = min(len(batch)+len(c.queue), maxBatch)
		clear(batch) // drop references for the garbage collector
		if !open {
			return
		}
	}
}

// commit runs a batch in one transaction. A write that fails after it may have changed the
// transaction (an unmarked error or a panic) spoils the transaction for everyone: it is rolled
// back, the rest retried without the culprit, and the culprit then run alone, so one bad
// request never fails others and a failed write leaves nothing behind.
func (c *committer) commit(batch []*writeReq) {
	pending := batch
	var solo []*writeReq
	for len(pending) > 0 {
		bad := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, r := range pending {
				err := runWrite(r, tx)
				var ce *cleanError
				switch {
				case err == nil:
					r.result = nil
				case errors.As(err, &ce):
					r.result = ce.err
				default:
					bad = i
					return err
				}
			}
			return nil
		})
		if bad >= 0 && len(pending) == 1 {
			// It ran alone already: its error is final.
			pending[0].done <- err
			break
		}
		if bad >= 0 {
			c.log.Warn("store: a write failed after changing its transaction; its batch is retried without it",
				"error", err, "batch", len(pending))
			solo = append(solo, pending[bad])
			// Copy rather than shift in place: pending aliases batch.
			pending = append(append([]*writeReq(nil), pending[:bad]...), pending[bad+1:]...)
			continue
		}
		if err == nil {
			c.commits.Add(1)
			c.writes.Add(int64(len(pending)))
			// Durable now (bbolt's commit fsyncs before it returns): observers hear of it
			// before any writer is told, and in commit order.
			for _, r := range pending {
				if r.result == nil {
					c.notify(r)
				}
			}
		}
		for _, r := range pending {
			if err != nil {
				r.done <- fmt.Errorf("store: commit: %w", err)
			} else {
				r.done <- r.result
			}
		}
		break
	}
	for _, r := range solo {
		err := c.db.Update(func(tx *bolt.Tx) error { return runWrite(r, tx) })
		if err == nil {
			c.commits.Add(1)
			c.writes.Add(1)
			c.notify(r)
		}
		r.done <- unclean(err)
	}
}

// notify hands the changes of the committed write r to the observer; a panicking observer is
// logged and the committer goes on.
func (c *committer) notify(r *writeReq) {
	if c.observe == nil || r.changes == nil || len(r.changes.list) == 0 {
		return
	}
	list := r.changes.list
	r.changes.list = nil // the observer owns it now
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("store: a commit observer panicked", "panic", fmt.Sprint(p))
		}
	}()
	c.observe(list)
}

// runWrite runs r's function on a fresh change log and turns a panic into an error, so the
// committer goroutine survives it.
func runWrite(r *writeReq, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v", p)
		}
	}()
	r.changes.reset()
	return r.fn(tx, r.changes)
}
