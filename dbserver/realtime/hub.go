package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/store"
)

// Defaults of Options.
const (
	DefaultBuffer       = 4096
	DefaultRingEvents   = 4096
	DefaultRingBytes    = 16 << 20
	DefaultRingAge      = 10 * time.Minute
	DefaultPingInterval = 5 * time.Second
	DefaultMaxQueue     = 1 << 16
	DefaultWriteTimeout = 10 * time.Second
	DefaultCoalesce     = 25 * time.Millisecond
)

var (
	// ErrFull is Subscribe's answer when MaxSubscribers streams are open.
	ErrFull = errors.New("realtime: too many subscribers")
	// ErrClosed is the answer of a hub that has been closed (the server is shutting down).
	ErrClosed = errors.New("realtime: shutting down")
)

// Options configure a Hub. The zero value is usable.
type Options struct {
	// Enabled reports whether realtime is on (settings realtime.enabled), read for every
	// write: while it is off the hub takes in nothing (and clients that come back later with
	// an old Last-Event-ID get a reset). Nil means on.
	Enabled func() bool
	// MaxSubscribers returns the cap on open streams, read at every Subscribe (settings
	// reloads apply at once); nil or a result < 1 means no cap.
	MaxSubscribers func() int
	// Buffer is how many events a subscriber may fall behind before it is disconnected;
	// default DefaultBuffer.
	Buffer int
	// RingEvents, RingBytes and RingAge bound the ring of recent events kept for clients
	// that reconnect with Last-Event-ID; defaults DefaultRingEvents, DefaultRingBytes,
	// DefaultRingAge.
	RingEvents int
	RingBytes  int
	RingAge    time.Duration
	// PingInterval spaces the keepalives, and the rechecks of each subscriber's credentials;
	// default DefaultPingInterval.
	PingInterval time.Duration
	// WriteTimeout bounds a write to a subscriber's connection: each has at least half of it
	// and at most all of it; default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxQueue bounds the events waiting for the dispatcher; default DefaultMaxQueue.
	MaxQueue int
	// Coalesce is the least time between two dispatch rounds: events that arrive sooner wait
	// for the next round, so that under load each subscriber is woken, and written to, once
	// per round rather than once per commit (with a thousand subscribers that is what keeps
	// the fan-out's CPU small). An event that finds the dispatcher idle for longer goes out
	// at once. A subscriber still writing earlier rounds when the next one comes writes all
	// that waits for it at once, so a loaded machine makes fewer, larger writes without the
	// rounds themselves being held back. Default DefaultCoalesce; a negative value dispatches
	// every commit at once.
	Coalesce time.Duration
	// UsersCollection names the collection whose changes make every subscriber's credentials
	// be checked again at once (roles, active); default "users".
	UsersCollection string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Registerer receives the hub's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives operational messages; default discards.
	Logger *slog.Logger
}

// Hub fans events out to subscribers. It is safe for concurrent use.
type Hub struct {
	opts    Options
	epoch   string
	metrics *metrics

	qmu     sync.Mutex // guards the fields below it
	queue   []*event
	seq     uint64 // the last sequence number given out
	lost    bool   // the queue overflowed: the dispatcher resets everyone
	skipped bool   // events were numbered but not taken in (realtime was off)
	closed  bool
	wake    chan struct{}
	stopped chan struct{} // closed when the dispatcher has returned

	mu     sync.Mutex // guards subs, the ring, reauth
	subs   map[*Subscriber]struct{}
	ring   ring
	reauth chan struct{}
	done   chan struct{} // closed by Close
}

// New starts a hub and its dispatch goroutine; Close stops it.
func New(opts Options) (*Hub, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.RingEvents <= 0 {
		opts.RingEvents = DefaultRingEvents
	}
	if opts.RingBytes <= 0 {
		opts.RingBytes = DefaultRingBytes
	}
	if opts.RingAge <= 0 {
		opts.RingAge = DefaultRingAge
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	if opts.Coalesce == 0 {
		opts.Coalesce = DefaultCoalesce
	}
	if opts.UsersCollection == "" {
		opts.UsersCollection = "users"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts: opts,
		// The epoch tells this process's event ids from a previous one's: a client that
		// reconnects after a restart gets a reset, never a wrong replay.
		epoch:   strconv.FormatInt(opts.Now().UnixMilli(), 36),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		subs:    map[*Subscriber]struct{}{},
		reauth:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	h.ring.max, h.ring.maxBytes, h.ring.maxAge = opts.RingEvents, opts.RingBytes, opts.RingAge
	m, err := newMetrics(opts.Registerer, h)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	go h.run()
	return h, nil
}

// Commit takes the changes of one committed write (store.Options.OnCommit). It only queues
// them: the writer never waits for subscribers.
func (h *Hub) Commit(changes []store.Change) {
	h.enqueue(eventsOf(changes))
}

// Publish sends a message named topic (a name matching settings.Channel) with data (JSON) to
// every subscriber whose channels allow PUBLISH:<topic>. It returns the event's id.
func (h *Hub) Publish(topic string, data []byte) (string, error) {
	// One line of JSON: a newline would end the event's data field.
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return "", fmt.Errorf("realtime: the message is not JSON: %w", err)
	}
	e := &event{name: EventPublish, topic: topic, msg: b.Bytes()}
	seq, ok := h.enqueue([]*event{e})
	if !ok {
		return "", ErrClosed
	}
	return string(appendID(nil, h.epoch, seq)), nil
}

// enqueue numbers events and queues them for the dispatcher; it returns the last number and
// false once the hub is closed.
func (h *Hub) enqueue(events []*event) (uint64, bool) {
	if len(events) == 0 {
		return 0, true
	}
	now := h.opts.Now()
	h.qmu.Lock()
	if h.closed {
		h.qmu.Unlock()
		return 0, false
	}
	for _, e := range events {
		h.seq++
		e.seq, e.at = h.seq, now
	}
	if h.opts.Enabled != nil && !h.opts.Enabled() {
		h.skipped = true
		last := h.seq
		h.qmu.Unlock()
		h.signal()
		return last, true
	}
	if len(h.queue)+len(events) > h.opts.MaxQueue {
		// The dispatcher is far behind: rather than grow without bound, drop what waits and
		// tell everyone to start over.
		clear(h.queue)
		h.queue = h.queue[:0]
		h.lost = true
	} else {
		h.queue = append(h.queue, events...)
	}
	last := h.seq
	h.qmu.Unlock()
	h.metrics.events.Add(float64(len(events)))
	h.signal()
	return last, true
}

// signal wakes the dispatcher.
func (h *Hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// maxDispatch bounds the events of one dispatch round, so that one round's frames stay small.
const maxDispatch = 512

// run is the dispatcher: it encodes each event once and hands every subscriber what it may hear.
func (h *Hub) run() {
	defer close(h.stopped)
	var batch []*event
	var last time.Time
	window := h.opts.Coalesce
	for {
		select {
		case <-h.wake:
		case <-h.done:
			return
		}
		if wait := window - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.done:
				t.Stop()
				return
			}
		}
		last = time.Now()
		for {
			h.qmu.Lock()
			lost, skipped, last := h.lost, h.skipped, h.seq
			h.lost, h.skipped = false, false
			n := min(len(h.queue), maxDispatch)
			batch = append(batch[:0], h.queue[:n]...)
			rest := copy(h.queue, h.queue[n:])
			clear(h.queue[rest:])
			h.queue = h.queue[:rest]
			h.qmu.Unlock()
			switch {
			case lost:
				h.overflow(last)
			case skipped:
				h.mu.Lock()
				h.ring.clear(last)
				h.mu.Unlock()
			}
			if len(batch) == 0 {
				break
			}
			h.dispatch(batch)
			clear(batch)
		}
	}
}

// overflow disconnects every subscriber and forgets the ring: events up to last are lost.
func (h *Hub) overflow(last uint64) {
	h.opts.Logger.Warn("realtime: the dispatcher fell behind; every stream is reset", "lastEvent", last)
	h.mu.Lock()
	h.ring.clear(last)
	for s := range h.subs {
		s.kick(ReasonOverflow)
	}
	h.mu.Unlock()
}

// dispatch encodes the batch into one buffer, keeps its events in the ring and hands every
// subscriber what it may hear without waiting for any: a subscriber that hears the whole batch
// (the common case) gets that one buffer, shared, not a copy. Subscribers that hear only part
// get theirs cut from one arena per round, so that a round costs a few allocations, not one
// per subscriber.
func (h *Hub) dispatch(batch []*event) {
	users := false
	size := 0
	for _, e := range batch {
		size += e.frameSize(len(e.ids))
	}
	whole := make([]byte, 0, size)
	// ends[i] is where the frame of batch[i] ends in whole.
	ends := make([]int, len(batch))
	for i, e := range batch {
		start := len(whole)
		whole = e.appendFrame(whole, h.epoch, e.ids)
		ends[i] = len(whole)
		// The ring's frames share whole's array (capped: nothing appends into a neighbour).
		e.frame = whole[start:len(whole):len(whole)]
		users = users || (e.coll != "" && e.coll == h.opts.UsersCollection)
	}
	r := round{events: batch, whole: whole, ends: ends}
	h.mu.Lock()
	for _, e := range batch {
		h.ring.push(e)
	}
	h.ring.expire(h.opts.Now())
	var arena []byte
	for s := range h.subs {
		var d delivery
		d, arena = s.filter(&r, arena)
		if d.events > 0 {
			s.deliver(d)
		}
	}
	h.mu.Unlock()
	if users {
		// Roles or active may have changed: check every subscriber's credentials now.
		h.Reauthorize()
	}
}

// Reauthorize makes every subscriber's stream check its credentials and settings again now
// (after a settings reload, or a change of users).
func (h *Hub) Reauthorize() {
	h.mu.Lock()
	close(h.reauth)
	h.reauth = make(chan struct{})
	h.mu.Unlock()
}

// Subscribe registers a subscriber that hears what access allows. lastEventID is the
// Last-Event-ID a reconnecting client sent ("" for none): the subscriber then starts with the
// events after it, or with a reset event when they are gone. It fails with ErrFull beyond
// MaxSubscribers and ErrClosed after Close.
func (h *Hub) Subscribe(access Access, lastEventID string) (*Subscriber, error) {
	s := &Subscriber{
		hub:   h,
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	s.access.Store(&accessBox{access})
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return nil, ErrClosed
	default:
	}
	if h.opts.MaxSubscribers != nil {
		if max := h.opts.MaxSubscribers(); max > 0 && len(h.subs) >= max {
			h.metrics.rejected.Inc()
			return nil, ErrFull
		}
	}
	// Under h.mu the ring and the registration agree: every event is either in the replay or
	// delivered live, never both, never neither.
	if lastEventID != "" {
		s.replay, s.reset = h.replayAfter(lastEventID)
	}
	s.reauth = h.reauth
	h.subs[s] = struct{}{}
	return s, nil
}

// replayAfter returns the ring's events after the event id, or a reset frame when they are
// not all there (or id is not one of this process's).
func (h *Hub) replayAfter(id string) ([]*event, []byte) {
	last := h.ring.last
	epoch, num, ok := strings.Cut(strings.TrimSpace(id), "-")
	seq, err := strconv.ParseUint(num, 10, 64)
	switch {
	case !ok || err != nil || epoch != h.epoch:
		return nil, resetFrame(h.epoch, last, "the event id is not from this server's current run")
	case seq > last:
		return nil, resetFrame(h.epoch, last, "the event id is ahead of this server")
	}
	events, complete := h.ring.after(seq)
	if !complete {
		return nil, resetFrame(h.epoch, last, "the events since this id are no longer kept")
	}
	return events, nil
}

// unsubscribe forgets s.
func (h *Hub) unsubscribe(s *Subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// reauthorized returns the channel closed at the next Reauthorize.
func (h *Hub) reauthorized() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reauth
}

// Subscribers returns how many streams are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every stream (reason "shutdown"), stops the dispatcher and refuses new
// subscribers and events. It is safe to call more than once.
func (h *Hub) Close() {
	h.qmu.Lock()
	already := h.closed
	h.closed = true
	h.qmu.Unlock()
	if already {
		<-h.stopped
		return
	}
	h.mu.Lock()
	close(h.done)
	for s := range h.subs {
		s.kick(ReasonShutdown)
	}
	h.mu.Unlock()
	<-h.stopped
}
