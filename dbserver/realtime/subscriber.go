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
	// mailbox holds deliveries (frames) the stream has not written yet; pending counts
	// their events.
	mailbox chan [][]byte
	pending atomic.Int64

	// replay and reset are what the stream writes first (see Hub.Subscribe).
	replay []*event
	reset  []byte
	// reauth is the hub's Reauthorize channel as of Subscribe, so that a Reauthorize before
	// the stream starts is not missed.
	reauth <-chan struct{}

	once   sync.Once
	done   chan struct{}
	reason string // set before done is closed
}

// filter returns the frames of batch that s may hear: all (the frames of the whole batch, shared
// by every subscriber that hears all of it) or a list of its own.
func (s *Subscriber) filter(batch []*event, all [][]byte) [][]byte {
	a := s.access.Load().Access
	var own [][]byte
	for i, e := range batch {
		f, whole := s.frameFor(a, e)
		switch {
		case own == nil && whole:
			continue // so far everything whole: keep sharing all
		case own == nil:
			own = append(make([][]byte, 0, len(batch)), all[:i]...)
		}
		if f != nil {
			own = append(own, f)
		}
	}
	if own == nil {
		return all
	}
	return own
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

// deliver hands frames to the stream without waiting; a subscriber too far behind is
// disconnected and the frames counted as dropped. Called with hub.mu held.
func (s *Subscriber) deliver(frames [][]byte) {
	n := int64(len(frames))
	if s.pending.Load()+n > int64(s.hub.opts.Buffer) {
		s.hub.metrics.dropped.Add(float64(n))
		s.kick(ReasonSlow)
		return
	}
	select {
	case s.mailbox <- frames:
		s.pending.Add(n)
	default:
		s.hub.metrics.dropped.Add(float64(n))
		s.kick(ReasonSlow)
	}
}

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
// http.ResponseController's Flush and SetWriteDeadline.
type Conn interface {
	io.Writer
	Flush() error
	SetWriteDeadline(time.Time) error
}

// Recheck checks the subscriber's credentials and the settings again; it returns the Access
// they now give, or an error when the stream may no longer run.
type Recheck func(ctx context.Context) (Access, error)

// Stream writes the subscriber's events to c until ctx ends (the client went away), the
// subscriber is disconnected, or recheck fails, and returns the reason the stream ended. It
// unsubscribes s before it returns. The HTTP layer has sent the headers already.
func (s *Subscriber) Stream(ctx context.Context, c Conn, recheck Recheck) string {
	reason := s.stream(ctx, c, recheck)
	s.kick(reason)
	s.hub.unsubscribe(s)
	s.hub.metrics.disconnects.WithLabelValues(s.reason).Inc()
	return s.reason
}

func (s *Subscriber) stream(ctx context.Context, c Conn, recheck Recheck) string {
	h := s.hub
	w := &counter{c: c, timeout: h.opts.WriteTimeout, now: h.opts.Now, sent: h.metrics.sent}
	// Reconnect after 3 s, restdb.io's clients' own habit; then what the client missed.
	w.write([]byte("retry: 3000\n\n"))
	if s.reset != nil {
		w.write(s.reset)
	}
	a := s.access.Load().Access
	for _, e := range s.replay {
		if f, _ := s.frameFor(a, e); f != nil {
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
	for {
		select {
		case <-ctx.Done():
			return ReasonClient
		case <-s.done:
			return s.reason
		case frames := <-s.mailbox:
			n := s.writeFrames(w, frames)
			// Write whatever else is waiting with the same flush.
			for more := true; more; {
				select {
				case frames = <-s.mailbox:
					n += s.writeFrames(w, frames)
				default:
					more = false
				}
			}
			err := w.flush()
			s.pending.Add(-int64(n))
			if err != nil {
				return ReasonClient
			}
		case <-reauth:
			reauth = h.reauthorized()
			a, err := recheck(ctx)
			if err != nil {
				return ReasonRevoked
			}
			s.SetAccess(a)
		case <-ticker.C:
			a, err := recheck(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ReasonClient
				}
				return ReasonRevoked
			}
			s.SetAccess(a)
			w.write(pingFrame(h.opts.Now()))
			if err := w.flush(); err != nil {
				return ReasonClient
			}
		}
	}
}

// writeFrames writes frames and returns how many there were.
func (s *Subscriber) writeFrames(w *counter, frames [][]byte) int {
	for _, f := range frames {
		w.write(f)
	}
	w.events += len(frames)
	return len(frames)
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

// arm makes sure the next write has at least timeout/2 before its deadline: a client that stops
// reading must not hold the stream's goroutine forever.
func (w *counter) arm() {
	if now := w.now(); w.deadline.Sub(now) < w.timeout/2 {
		w.deadline = now.Add(w.timeout)
		if err := w.c.SetWriteDeadline(w.deadline); err != nil && w.err == nil {
			w.err = err
		}
	}
}

func (w *counter) write(b []byte) {
	if w.err != nil {
		return
	}
	w.arm()
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
