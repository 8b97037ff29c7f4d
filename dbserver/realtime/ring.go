package realtime

import "time"

// ring keeps the newest events for clients that reconnect with Last-Event-ID: at most max
// events, maxBytes of frames, none older than maxAge.
type ring struct {
	max, maxBytes int
	maxAge        time.Duration

	events []*event // oldest first
	bytes  int
	// last is the newest sequence number pushed or cleared; floor the newest one no longer
	// kept (events after floor are all in events).
	last, floor uint64
}

func (r *ring) push(e *event) {
	r.events = append(r.events, e)
	r.bytes += len(e.frame)
	r.last = max(r.last, e.seq)
	for len(r.events) > r.max || (r.bytes > r.maxBytes && len(r.events) > 1) {
		r.dropOldest()
	}
}

func (r *ring) dropOldest() {
	e := r.events[0]
	r.events[0] = nil
	r.events = r.events[1:]
	r.bytes -= len(e.frame)
	r.floor = e.seq
}

// expire drops the events older than maxAge.
func (r *ring) expire(now time.Time) {
	for len(r.events) > 0 && now.Sub(r.events[0].at) > r.maxAge {
		r.dropOldest()
	}
	// Reslicing from the front leaks the array's head; start a fresh one now and then.
	if cap(r.events) > 4*r.max && len(r.events) < r.max {
		r.events = append([]*event(nil), r.events...)
	}
}

// clear forgets everything up to last.
func (r *ring) clear(last uint64) {
	clear(r.events)
	r.events, r.bytes = nil, 0
	r.last, r.floor = last, last
}

// after returns the events after seq, and whether they are all kept.
func (r *ring) after(seq uint64) ([]*event, bool) {
	if seq < r.floor {
		return nil, false
	}
	i := len(r.events)
	for i > 0 && r.events[i-1].seq > seq {
		i--
	}
	return append([]*event(nil), r.events[i:]...), true
}
