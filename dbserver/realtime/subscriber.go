package realtime

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Access decides what one subscriber may hear. The hub asks it on its dispatch goroutine for
// every event and subscriber, so it must answer from memory, quickly.
type Access interface {
	// HearsDoc reports whether the subscriber may hear method (MethodPost, MethodPut,
	// MethodDelete) on the document id of coll, created by owner.
	HearsDoc(method, coll, id, owner string) bool
	// HearsTopic reports whether it may hear messages published as topic.
	HearsTopic(topic string) bool
}

// accessBox lets an Access (an interface) live in an atomic.Pointer.
type accessBox struct{ Access }

// Reasons a stream ends, the label of the disconnect metric.
const (
	// ReasonClient: the client went away (or a write to it failed or timed out).
	ReasonClient = "client"
	// ReasonSlow: the subscriber fell more than Options.Buffer events behind.
	ReasonSlow = "slow"
	// ReasonRevoked: its credentials, or the settings, no longer allow the stream.
	ReasonRevoked = "revoked"
	// ReasonShutdown: the server is shutting down.
	ReasonShutdown = "shutdown"
	// ReasonOverflow: the hub's dispatcher fell behind and reset every stream.
	ReasonOverflow = "overflow"
)

// Subscriber is one open stream.
type Subscriber struct {
	hub    *Hub
	access atomic.Pointer[accessBox]
	// queue holds the deliveries the stream has not written yet (guarded by qmu); pending
	// counts their events, at most Options.Buffer. ready tells the stream that queue has
	// something.
	qmu     sync.Mutex
	queue   []delivery
	pending atomic.Int64
	ready   chan struct{}

	// replay and reset are what the stream writes first (see Hub.Subscribe).
	replay []*event
	reset  []byte
	// reauth is the hub's Reauthorize count as of Subscribe, so that a Reauthorize before
	// the stream starts is not missed.
	reauth uint64

	once   sync.Once
	done   chan struct{}
	reason string // set before done is closed
}

// round is one dispatch round: its events, and their frames end to end in whole (the frame of
// events[i] ends at ends[i]).
type round struct {
	events []*event
	whole  []byte
	ends   []int
}

// delivery is what one round gives one subscriber: the bytes of its frames and how many events
// they are.
type delivery struct {
	b      []byte
	events int
}

// filter returns what s may hear of r: r.whole itself (shared by every subscriber that hears
// all of it), or its own frames appended to arena (returned, grown).
func (s *Subscriber) filter(r *round, arena []byte) (delivery, []byte) {
	a := s.access.Load().Access
	split := false
	start := len(arena)
	n := 0
	for i, e := range r.events {
		f, whole := s.frameFor(a, e)
		switch {
		case !split && whole:
			n++
			continue // so far everything whole: keep sharing r.whole
		case !split:
			split = true
			prev := 0
			if i > 0 {
				prev = r.ends[i-1]
			}
			arena = append(arena, r.whole[:prev]...)
		}
		if f != nil {
			arena = append(arena, f...)
			n++
		}
	}
	if !split {
		return delivery{b: r.whole, events: n}, arena
	}
	// Capped, so that the next subscriber's bytes never land in this one's.
	return delivery{b: arena[start:len(arena):len(arena)], events: n}, arena
}

// frameFor returns the frame of e that access may hear: e.frame (whole), a frame of its own (a
// delete of which only some documents are visible), or nil.
func (s *Subscriber) frameFor(a Access, e *event) (frame []byte, whole bool) {
	if e.name == EventPublish {
		if a.HearsTopic(e.topic) {
			return e.frame, true
		}
		return nil, false
	}
	m := e.method()
	var seen []string
	for i, id := range e.ids {
		ok := a.HearsDoc(m, e.coll, id, e.owners[i])
		switch {
		case ok && seen != nil:
			seen = append(seen, id)
		case !ok && seen == nil:
			seen = append(make([]string, 0, len(e.ids)), e.ids[:i]...)
		}
	}
	switch {
	case seen == nil:
		return e.frame, true
	case len(seen) == 0:
		return nil, false
	}
	return e.encode(s.hub.epoch, seen), false
}

// deliver hands d to the stream without waiting; a subscriber that would be more than Buffer
// events behind is disconnected and the events counted as dropped. Called with hub.mu held.
func (s *Subscriber) deliver(d delivery) {
	n := int64(d.events)
	if s.pending.Load()+n > int64(s.hub.opts.Buffer) {
		s.hub.metrics.dropped.Add(float64(n))
		s.kick(ReasonSlow)
		return
	}
	if s.pending.Add(n) == n {
		s.hub.startBusy()
	}
	s.qmu.Lock()
	s.queue = append(s.queue, d)
	s.qmu.Unlock()
	s.wake()
}

// wake tells the stream to look at its queue and at the hub's Reauthorize count.
func (s *Subscriber) wake() {
	select {
	case s.ready <- struct{}{}:
	default: // already told
	}
}

// take returns the deliveries waiting, leaving the queue empty; spare (emptied) becomes the
// next queue unless it has grown large.
func (s *Subscriber) take(spare []delivery) []delivery {
	if cap(spare) > maxSpare {
		spare = nil
	}
	s.qmu.Lock()
	q := s.queue
	s.queue = spare[:0]
	s.qmu.Unlock()
	return q
}

// maxSpare bounds the queue array a stream keeps between rounds.
const maxSpare = 16

// kick ends the stream for reason (the first reason given wins).
func (s *Subscriber) kick(reason string) {
	s.once.Do(func() {
		s.reason = reason
		close(s.done)
	})
}

// SetAccess replaces what the subscriber may hear (after its credentials were checked again).
func (s *Subscriber) SetAccess(a Access) { s.access.Store(&accessBox{a}) }

// Conn is the connection a stream writes to: an http.ResponseWriter with its
// http.ResponseController's Flush and SetWriteDeadline, or a connection of its own. The
// stream never changes bytes it has written, and the bytes of one round are shared by every
// subscriber that hears all of it: unlike an io.Writer, a Conn may keep b until the next Flush
// instead of copying it (and write several Writes with one system call). A Conn that is also
// an io.Closer is closed when the stream ends (to end the response), before Stream returns.
type Conn interface {
	Write(b []byte) (int, error)
	Flush() error
	SetWriteDeadline(time.Time) error
}

// Recheck checks the subscriber's credentials and the settings again; it returns the Access
// they now give, or an error when the stream may no longer run.
type Recheck func(ctx context.Context) (Access, error)

// Stream writes the subscriber's events to c until ctx ends (the client went away), the
// subscriber is disconnected, or recheck fails, and returns the reason the stream ended. It
// closes c if c is an io.Closer and unsubscribes s before it returns; Hub.Close waits for
// that. The HTTP layer has sent the headers already, or c sends them with the first Flush.
func (s *Subscriber) Stream(ctx context.Context, c Conn, recheck Recheck) string {
	s.hub.streamStarts()
	defer s.hub.streamEnds()
	reason := s.stream(ctx, c, recheck)
	s.kick(reason)
	if cl, ok := c.(io.Closer); ok {
		_ = cl.Close()
	}
	s.hub.unsubscribe(s)
	s.hub.metrics.disconnects.WithLabelValues(s.reason).Inc()
	return s.reason
}

func (s *Subscriber) stream(ctx context.Context, c Conn, recheck Recheck) string {
	h := s.hub
	w := &counter{c: c, timeout: h.opts.WriteTimeout, now: h.opts.Now, sent: h.metrics.sent}
	// Reconnect after 3 s, restdb.io's clients' own habit; then what the client missed.
	w.arm()
	w.write([]byte("retry: 3000\n\n"))
	if s.reset != nil {
		w.write(s.reset)
	}
	a := s.access.Load().Access
	for _, e := range s.replay {
		if f, _ := s.frameFor(a, e); f != nil {
			w.arm()
			w.write(f)
			w.events++
		}
	}
	s.replay = nil
	w.write(pingFrame(h.opts.Now()))
	if err := w.flush(); err != nil {
		return ReasonClient
	}
	ticker := time.NewTicker(h.opts.PingInterval)
	defer ticker.Stop()
	reauth := s.reauth
	if reauth != h.reauth.Load() {
		s.wake() // a Reauthorize since Subscribe
	}
	var spare []delivery
	for {
		select {
		case <-ctx.Done():
			return ReasonClient
		case <-s.done:
			return s.reason
		case <-s.ready:
			if r := h.reauth.Load(); r != reauth {
				// Credentials first: a revoked stream writes nothing more.
				reauth = r
				a, err := recheck(ctx)
				if err != nil {
					return ReasonRevoked
				}
				s.SetAccess(a)
			}
			// Everything waiting (one round, or several when the stream fell behind) goes
			// out with one flush.
			q := s.take(spare)
			if len(q) == 0 {
				spare = q // a signal left from deliveries already written
				continue
			}
			n := 0
			w.arm()
			for _, d := range q {
				w.write(d.b)
				n += d.events
			}
			w.events += n
			err := w.flush()
			clear(q)
			spare = q
			if s.pending.Add(-int64(n)) == 0 {
				h.endBusy()
			}
			if err != nil {
				return ReasonClient
			}
		case <-ticker.C:
			a, err := recheck(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ReasonClient
				}
				return ReasonRevoked
			}
			s.SetAccess(a)
			w.arm()
			w.write(pingFrame(h.opts.Now()))
			if err := w.flush(); err != nil {
				return ReasonClient
			}
		}
	}
}

// counter writes to a Conn, remembers the first error, and counts the events written for the
// metrics at each flush.
type counter struct {
	c       Conn
	timeout time.Duration
	now     func() time.Time
	err     error
	// deadline is the write deadline set on c. It is moved only when less than half of
	// timeout is left, so every write has at least timeout/2 to get through while a round
	// of writes costs no timer update.
	deadline time.Time
	events   int                // events written since the last flush
	sent     prometheus.Counter // counts them once flushed
}

// arm makes sure the next writes, and the flush after them, have at least timeout/2 before
// their deadline: a client that stops reading must not hold the stream's goroutine forever.
// It is called once per round of writes (reading the clock per write cost a thousand streams
// more than the writes' own bookkeeping).
func (w *counter) arm() {
	if now := w.now(); w.deadline.Sub(now) < w.timeout/2 {
		w.deadline = now.Add(w.timeout)
		if err := w.c.SetWriteDeadline(w.deadline); err != nil && w.err == nil {
			w.err = err
		}
	}
}

// write writes b; arm first.
func (w *counter) write(b []byte) {
	if w.err == nil {
		_, w.err = w.c.Write(b)
	}
}

func (w *counter) flush() error {
	if w.err == nil {
		w.arm()
		if w.err == nil {
			w.err = w.c.Flush()
		}
	}
	if w.err != nil {
		return errors.Join(errors.New("realtime: writing to the subscriber"), w.err)
	}
	w.sent.Add(float64(w.events))
	w.events = 0
	return nil
}
