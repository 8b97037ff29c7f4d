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
	"sync/atomic"
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

	mu   sync.Mutex // guards subs, the ring, streams, drained, and writes of reauth
	subs map[*Subscriber]struct{}
	ring ring
	// busy counts the subscribers with events not yet written, nsubs the subscribers;
	// caughtUpAt (Unix nanoseconds) is when the last round was written by all but a few;
	// caughtUp tells pace of it. See pace.
	busy, nsubs atomic.Int64
	caughtUpAt  atomic.Int64
	caughtUp    chan struct{}
	// reauth counts the Reauthorize calls: a stream that sees it move checks its
	// credentials again (each stream is woken on its own channel, so that a thousand of
	// them do not contend for the lock of one shared channel at every round).
	reauth atomic.Uint64
	done   chan struct{} // closed by Close
	// streams counts the Streams running; drained is closed once Close has been called and
	// none is left.
	streams     int
	drained     chan struct{}
	drainedShut bool
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
		epoch:    strconv.FormatInt(opts.Now().UnixMilli(), 36),
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
		subs:     map[*Subscriber]struct{}{},
		done:     make(chan struct{}),
		drained:  make(chan struct{}),
		caughtUp: make(chan struct{}, 1),
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
	var began time.Time // when the last round began
	for {
		select {
		case <-h.wake:
		case <-h.done:
			return
		}
		if h.opts.Coalesce > 0 && !began.IsZero() {
			if !h.pace(began) {
				return
			}
		}
		began = time.Now()
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

// maxCoalesce bounds the time between two rounds; minBehind is the fewest subscribers still
// writing a round that count as the round not written yet (one stuck client must not slow
// the others).
const (
	maxCoalesce = 250 * time.Millisecond
	minBehind   = 16
)

// lagging reports whether busy subscribers out of subs are too many for the last round to
// count as written: at least minBehind and more than a tenth.
func lagging(busy, subs int64) bool { return busy >= minBehind && busy*10 > subs }

// pace waits before the round after the one that began at began: at least Coalesce after it;
// and when its writing took the subscribers a while (until no more than a tenth of them were
// still at it), as long again after they were done, so that the fan-out takes at most about
// half of the time the machine gives it and the writers keep the rest. It never waits beyond
// maxCoalesce after began: the streams still writing then take the next round with the one
// they are writing. On an idle machine a round of a thousand subscribers is written in a few
// milliseconds and the rounds are Coalesce apart; on a loaded one they space out, fewer and
// larger. It returns false when the hub closes.
func (h *Hub) pace(began time.Time) bool {
	limit := began.Add(maxCoalesce)
	for lagging(h.busy.Load(), h.nsubs.Load()) {
		if !h.sleepUntil(limit, h.caughtUp) {
			return false
		}
		if !time.Now().Before(limit) {
			return true
		}
	}
	next := began.Add(h.opts.Coalesce)
	if at := h.caughtUpAt.Load(); at > began.UnixNano() {
		done := time.Unix(0, at)
		next = later(next, done.Add(done.Sub(began)))
	}
	if next.After(limit) {
		next = limit
	}
	return h.sleepUntil(next, nil)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sleepUntil waits until t, or until wake has something (nil: never); false when the hub
// closes.
func (h *Hub) sleepUntil(t time.Time, wake <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-wake:
	case <-h.done:
		return false
	}
	return true
}

// startBusy and endBusy count the subscribers with events not yet written (busy): a delivery
// to a subscriber that had none calls startBusy, its stream's flush that leaves it none
// endBusy. The one endBusy that takes busy below lagging notes the time and tells pace.
func (h *Hub) startBusy() { h.busy.Add(1) }

func (h *Hub) endBusy() {
	now := h.busy.Add(-1)
	if lagging(now+1, h.nsubs.Load()) && !lagging(now, h.nsubs.Load()) {
		h.caughtUpAt.Store(time.Now().UnixNano())
		select {
		case h.caughtUp <- struct{}{}:
		default:
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
	h.reauth.Add(1)
	for s := range h.subs {
		s.wake()
	}
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
	s.reauth = h.reauth.Load()
	h.subs[s] = struct{}{}
	h.nsubs.Add(1)
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
	h.nsubs.Add(-1)
	if s.pending.Swap(0) > 0 {
		h.endBusy() // its events will never be written
	}
	h.mu.Unlock()
}

// Subscribers returns how many streams are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// streamStarts and streamEnds count the running Streams, for Close.
func (h *Hub) streamStarts() {
	h.mu.Lock()
	h.streams++
	h.mu.Unlock()
}

func (h *Hub) streamEnds() {
	h.mu.Lock()
	h.streams--
	h.checkDrained()
	h.mu.Unlock()
}

// checkDrained closes drained once the hub is closed and no Stream runs. Called with mu held.
func (h *Hub) checkDrained() {
	select {
	case <-h.done:
	default:
		return
	}
	if h.streams == 0 && !h.drainedShut {
		h.drainedShut = true
		close(h.drained)
	}
}

// Close ends every stream (reason "shutdown"), stops the dispatcher and refuses new
// subscribers and events. It returns once every Stream has returned (their connections
// ended), or after WriteTimeout if some cannot finish writing. It is safe to call more than
// once.
func (h *Hub) Close() {
	h.qmu.Lock()
	already := h.closed
	h.closed = true
	h.qmu.Unlock()
	if !already {
		h.mu.Lock()
		close(h.done)
		for s := range h.subs {
			s.kick(ReasonShutdown)
		}
		h.checkDrained()
		h.mu.Unlock()
	}
	<-h.stopped
	t := time.NewTimer(h.opts.WriteTimeout)
	defer t.Stop()
	select {
	case <-h.drained:
	case <-t.C:
		h.opts.Logger.Warn("realtime: streams still writing at shutdown; leaving them")
	}
}
