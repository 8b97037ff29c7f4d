package realtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/store"
)

// everything hears all; some hears only what its fields allow.
type everything struct{}

func (everything) HearsDoc(string, string, string, string) bool { return true }
func (everything) HearsTopic(string) bool                       { return true }

type some struct {
	owner string // documents of this owner only ("" any)
	topic string
}

func (s some) HearsDoc(_, _, _, owner string) bool { return s.owner == "" || owner == s.owner }
func (s some) HearsTopic(t string) bool            { return t == s.topic }

// pipeConn is a Conn over an io.Pipe: the test reads what the stream writes.
type pipeConn struct{ w *io.PipeWriter }

func (c *pipeConn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *pipeConn) Flush() error                     { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

type frame struct{ id, name, data string }

// stream runs s.Stream over a pipe and returns the frames it writes (pings left out unless
// pings is set) and a channel that yields the end reason.
func stream(t *testing.T, s *Subscriber, pings bool, recheck Recheck) (<-chan frame, <-chan string, context.CancelFunc) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	frames := make(chan frame, 1000)
	reason := make(chan string, 1)
	if recheck == nil {
		recheck = func(context.Context) (Access, error) { return s.access.Load().Access, nil }
	}
	go func() {
		reason <- s.Stream(ctx, &pipeConn{w: pw}, recheck)
		pw.Close()
	}()
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.name != "" && (pings || f.name != EventPing) {
					frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				f.data = line[6:]
			}
		}
	}()
	return frames, reason, cancel
}

func next(t *testing.T, frames <-chan frame) frame {
	t.Helper()
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("the stream ended")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return frame{}
}

func newHub(t *testing.T, opts Options) *Hub {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func insert(coll, id, owner string) []store.Change {
	return []store.Change{{Op: store.OpInsert, Coll: coll, ID: id, CreatedBy: owner, Doc: []byte(`{"_id":"` + id + `","_createdby":"` + owner + `"}`)}}
}

func TestEventsAreEncodedAsRestdbSendsThem(t *testing.T) {
	h := newHub(t, Options{})
	s, err := h.Subscribe(everything{}, "")
	if err != nil {
		t.Fatal(err)
	}
	frames, _, _ := stream(t, s, true, nil)
	if f := next(t, frames); f.name != EventPing {
		t.Fatalf("first frame %+v, want a ping", f)
	} else if _, err := time.Parse(jsondoc.TimeFormat, f.data); err != nil {
		t.Fatalf("ping data %q is not an ISO date: %v", f.data, err)
	}
	h.Commit(insert("c", "a1", "ann"))
	h.Commit([]store.Change{{Op: store.OpUpdate, Coll: "c", ID: "a1", CreatedBy: "ann", Doc: []byte(`{}`)}})
	h.Commit([]store.Change{{Op: store.OpDelete, Coll: "c", ID: "a1"}, {Op: store.OpDelete, Coll: "c", ID: "b2"}})
	if _, err := h.Publish("chat", []byte("{\n \"text\": \"hi\"\n}")); err != nil {
		t.Fatal(err)
	}
	want := []frame{
		{id: h.epoch + "-1", name: "post", data: `{"event":"post","collection":"c","data":{"_id":"a1","_createdby":"ann"}}`},
		{id: h.epoch + "-2", name: "put", data: `{"event":"put","collection":"c","data":"a1"}`},
		{id: h.epoch + "-3", name: "delete", data: `{"event":"delete","collection":"c","data":["a1","b2"]}`},
		{id: h.epoch + "-4", name: "publish", data: `{"event":"chat","data":{"text":"hi"}}`},
	}
	for _, w := range want {
		if got := next(t, frames); got != w {
			t.Errorf("got %+v\nwant %+v", got, w)
		}
	}
	if _, err := h.Publish("chat", []byte("{nope")); err == nil {
		t.Error("a message that is not JSON was published")
	}
}

func TestFilteringPerSubscriber(t *testing.T) {
	h := newHub(t, Options{})
	ann, _ := h.Subscribe(some{owner: "ann", topic: "a"}, "")
	bob, _ := h.Subscribe(some{owner: "bob", topic: "b"}, "")
	af, _, _ := stream(t, ann, false, nil)
	bf, _, _ := stream(t, bob, false, nil)
	h.Commit(insert("c", "x1", "ann"))
	h.Commit(insert("c", "x2", "bob"))
	h.Commit([]store.Change{{Op: store.OpDelete, Coll: "c", ID: "x1", CreatedBy: "ann"}, {Op: store.OpDelete, Coll: "c", ID: "x2", CreatedBy: "bob"}})
	h.Publish("a", []byte(`1`))
	h.Publish("b", []byte(`2`))
	for _, c := range []struct {
		frames <-chan frame
		want   []string
	}{
		{af, []string{`{"event":"post","collection":"c","data":{"_id":"x1","_createdby":"ann"}}`, `{"event":"delete","collection":"c","data":["x1"]}`, `{"event":"a","data":1}`}},
		{bf, []string{`{"event":"post","collection":"c","data":{"_id":"x2","_createdby":"bob"}}`, `{"event":"delete","collection":"c","data":["x2"]}`, `{"event":"b","data":2}`}},
	} {
		for _, w := range c.want {
			if got := next(t, c.frames); got.data != w {
				t.Errorf("got %s, want %s", got.data, w)
			}
		}
	}
}

func TestReplayAfterLastEventIDAndReset(t *testing.T) {
	h := newHub(t, Options{RingEvents: 3})
	probe, _ := h.Subscribe(everything{}, "")
	pf, _, _ := stream(t, probe, false, nil)
	for _, id := range []string{"d1", "d2", "d3"} {
		h.Commit(insert("c", id, "x"))
	}
	var ids []string
	for range 3 {
		ids = append(ids, next(t, pf).id)
	}
	// Back with the first id: the two after it, then live events.
	s, err := h.Subscribe(everything{}, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	sf, _, _ := stream(t, s, false, nil)
	for _, want := range ids[1:] {
		if got := next(t, sf); got.id != want {
			t.Fatalf("replayed %s, want %s", got.id, want)
		}
	}
	h.Commit(insert("c", "d4", "x"))
	if got := next(t, sf); got.id != h.epoch+"-4" {
		t.Fatalf("live event after the replay: %+v", got)
	}
	next(t, pf)
	// The ring keeps 3: after event 1 is gone now (events 2..4 are kept, 1 is not needed;
	// but "after 0" needs event 1).
	for name, id := range map[string]string{
		"an id from another run": "zzz-1",
		"an id the ring lost":    h.epoch + "-0",
		"an id from the future":  h.epoch + "-99",
		"not an id":              "garbage",
	} {
		s, err := h.Subscribe(everything{}, id)
		if err != nil {
			t.Fatal(err)
		}
		f, _, cancel := stream(t, s, false, nil)
		got := next(t, f)
		if got.name != EventReset || got.id != h.epoch+"-4" || !strings.Contains(got.data, `"event":"reset"`) {
			t.Errorf("%s: first frame %+v, want a reset with the newest id", name, got)
		}
		cancel()
	}
}

// A subscriber whose connection does not take its events is disconnected once it is Buffer
// events behind; the others, and the writers, never wait for it.
func TestSlowSubscriberIsDisconnected(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHub(t, Options{Buffer: 100, WriteTimeout: 500 * time.Millisecond, Registerer: reg})
	stuck, _ := h.Subscribe(everything{}, "")
	reason := make(chan string, 1)
	go func() {
		reason <- stuck.Stream(context.Background(), &stalledConn{}, func(context.Context) (Access, error) { return everything{}, nil })
	}()
	fast, _ := h.Subscribe(everything{}, "")
	ff, fr, _ := stream(t, fast, false, nil)
	defer func() {
		select {
		case r := <-fr:
			t.Logf("fast ended: %s", r)
		default:
		}
	}()
	// Writes of 10 documents, each taken by the fast subscriber before the next: the stuck
	// one falls behind by 10 more every time.
	for i := range 30 {
		var write []store.Change
		for j := range 10 {
			write = append(write, insert("c", fmt.Sprintf("id%d-%d", i, j), "x")...)
		}
		start := time.Now()
		h.Commit(write)
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("a commit took %s with a stuck subscriber", d)
		}
		for range 10 {
			next(t, ff)
		}
	}
	select {
	case r := <-reason:
		if r != ReasonSlow {
			t.Fatalf("the stuck stream ended for %q, want %q", r, ReasonSlow)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck stream did not end")
	}
	if got := testutil.ToFloat64(h.metrics.dropped); got == 0 {
		t.Error("no event counted as dropped")
	}
	if got := testutil.ToFloat64(h.metrics.disconnects.WithLabelValues(ReasonSlow)); got != 1 {
		t.Errorf("disconnects{reason=slow} = %v, want 1", got)
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("%d subscribers left, want 1", n)
	}
}

// stalledConn takes nothing: every write waits for its deadline, as a socket whose peer stopped
// reading does.
type stalledConn struct {
	mu       sync.Mutex
	deadline time.Time
}

func (c *stalledConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	time.Sleep(time.Until(d))
	return 0, errors.New("i/o timeout")
}
func (c *stalledConn) Flush() error { return nil }
func (c *stalledConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// Close ends every stream at once, with reason shutdown, and refuses new subscribers.
func TestCloseEndsStreams(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := h.Subscribe(everything{}, "")
	_, reason, _ := stream(t, s, false, nil)
	start := time.Now()
	h.Close()
	select {
	case r := <-reason:
		if r != ReasonShutdown {
			t.Errorf("reason %q", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the stream")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
	if _, err := h.Subscribe(everything{}, ""); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if _, err := h.Publish("x", []byte("1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	h.Commit(insert("c", "late", "x")) // must not panic or block
}

// A failed recheck (revoked credentials) ends the stream; Reauthorize triggers one at once.
func TestRecheckRevokes(t *testing.T) {
	h := newHub(t, Options{PingInterval: time.Hour})
	s, _ := h.Subscribe(everything{}, "")
	var mu sync.Mutex
	revoked := false
	_, reason, _ := stream(t, s, false, func(context.Context) (Access, error) {
		mu.Lock()
		defer mu.Unlock()
		if revoked {
			return nil, errors.New("revoked")
		}
		return everything{}, nil
	})
	mu.Lock()
	revoked = true
	mu.Unlock()
	h.Reauthorize()
	select {
	case r := <-reason:
		if r != ReasonRevoked {
			t.Errorf("reason %q", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Reauthorize did not end a revoked stream")
	}
}

// A change in the users collection makes every stream check its credentials.
func TestUsersChangeTriggersRecheck(t *testing.T) {
	h := newHub(t, Options{PingInterval: time.Hour})
	s, _ := h.Subscribe(everything{}, "")
	checks := make(chan struct{}, 10)
	stream(t, s, false, func(context.Context) (Access, error) { checks <- struct{}{}; return everything{}, nil })
	h.Commit(insert("notes", "n1", "x"))
	h.Commit(insert("users", "u1", "x"))
	select {
	case <-checks:
	case <-time.After(2 * time.Second):
		t.Fatal("no recheck after a change of users")
	}
}

func TestMaxSubscribers(t *testing.T) {
	h := newHub(t, Options{MaxSubscribers: func() int { return 2 }})
	a, err1 := h.Subscribe(everything{}, "")
	_, err2 := h.Subscribe(everything{}, "")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := h.Subscribe(everything{}, ""); !errors.Is(err, ErrFull) {
		t.Fatalf("third subscriber: %v", err)
	}
	_, reason, cancel := stream(t, a, false, nil)
	cancel()
	<-reason
	if _, err := h.Subscribe(everything{}, ""); err != nil {
		t.Fatalf("after one left: %v", err)
	}
}

// While realtime is off nothing is taken in, and ids from before reset.
func TestDisabledHubTakesNothing(t *testing.T) {
	var on sync.Mutex
	enabled := true
	set := func(v bool) { on.Lock(); enabled = v; on.Unlock() }
	h := newHub(t, Options{Enabled: func() bool { on.Lock(); defer on.Unlock(); return enabled }})
	s, _ := h.Subscribe(everything{}, "")
	f, _, _ := stream(t, s, false, nil)
	h.Commit(insert("c", "a", "x"))
	first := next(t, f)
	set(false)
	h.Commit(insert("c", "b", "x"))
	set(true)
	h.Commit(insert("c", "c", "x"))
	if got := next(t, f); !strings.Contains(got.data, `"_id":"c"`) {
		t.Fatalf("after a while off: %+v, want the post of c", got)
	}
	back, _ := h.Subscribe(everything{}, first.id)
	fb, _, _ := stream(t, back, false, nil)
	if got := next(t, fb); got.name != EventReset {
		t.Fatalf("an id from before the gap replayed %+v, want a reset", got)
	}
}

func TestChannels(t *testing.T) {
	c := ParseChannels([]string{"POST:company", "PATCH:notes", "*:logs", "PUBLISH:chat", "DELETE:*", "bogus"})
	for _, tc := range []struct {
		method, name string
		want         bool
	}{
		{"POST", "company", true}, {"PUT", "company", false}, {"DELETE", "company", true},
		{"PUT", "notes", true}, {"POST", "notes", false},
		{"POST", "logs", true}, {"PUBLISH", "logs", true},
		{"PUBLISH", "chat", true}, {"PUBLISH", "other", false},
		{"DELETE", "anything", true},
	} {
		if got := c.Allows(tc.method, tc.name); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.method, tc.name, got)
		}
	}
	if (Channels{}).Allows("POST", "x") || ParseChannels(nil).Allows("POST", "x") {
		t.Error("no channels allow something")
	}
}

// One round is encoded once: the subscribers that hear all of it share one buffer, and one
// that hears part of it gets only its frames, in order.
func TestRoundIsSharedAndFilteredCopiesArePrivate(t *testing.T) {
	h := newHub(t, Options{})
	all1, _ := h.Subscribe(everything{}, "")
	all2, _ := h.Subscribe(everything{}, "")
	ann, _ := h.Subscribe(some{owner: "ann"}, "")
	var write []store.Change
	for _, c := range [][2]string{{"a1", "ann"}, {"b1", "bob"}, {"a2", "ann"}} {
		write = append(write, insert("c", c[0], c[1])...)
	}
	h.Commit(write) // one enqueue: one round
	wantPending := map[*Subscriber]int64{all1: 3, all2: 3, ann: 2}
	deadline := time.Now().Add(5 * time.Second)
	for s, want := range wantPending {
		for s.pending.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("pending %d, want %d", s.pending.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	queued := func(s *Subscriber) delivery {
		s.qmu.Lock()
		defer s.qmu.Unlock()
		if len(s.queue) != 1 {
			t.Fatalf("%d deliveries queued, want 1 (one round)", len(s.queue))
		}
		return s.queue[0]
	}
	d1, d2, da := queued(all1), queued(all2), queued(ann)
	if &d1.b[0] != &d2.b[0] || len(d1.b) != len(d2.b) {
		t.Error("two subscribers that hear the whole round got copies, not one shared buffer")
	}
	if &da.b[0] == &d1.b[0] {
		t.Error("the filtered subscriber shares the whole round")
	}
	var ids []string
	for _, line := range strings.Split(string(da.b), "\n") {
		if rest, ok := strings.CutPrefix(line, "data: "); ok {
			ids = append(ids, rest[strings.Index(rest, `"_id":"`)+7:][:2])
		}
	}
	if strings.Join(ids, ",") != "a1,a2" || da.events != 2 {
		t.Errorf("the filtered subscriber got %v (%d events), want a1,a2", ids, da.events)
	}
	if !strings.Contains(string(d1.b), `"_id":"b1"`) || d1.events != 3 {
		t.Errorf("the whole round lacks b1 or counts %d events", d1.events)
	}
}

// gateConn blocks its writes while the gate is closed, and counts flushes.
type gateConn struct {
	mu      sync.Mutex
	open    *sync.Cond
	closed  bool
	blocked bool // a write waits for the gate
	buf     strings.Builder
	flushes int
}

func newGateConn() *gateConn {
	c := &gateConn{}
	c.open = sync.NewCond(&c.mu)
	return c
}

func (c *gateConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.closed {
		c.blocked = true
		c.open.Wait()
	}
	c.blocked = false
	return c.buf.Write(b)
}

func (c *gateConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
	return nil
}

func (c *gateConn) SetWriteDeadline(time.Time) error { return nil }

func (c *gateConn) set(closed bool) (flushes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = closed
	c.open.Broadcast()
	return c.flushes
}

// A stream that is still writing when later rounds come writes them all with one flush, in
// order, instead of one write and flush per round.
func TestLaggingStreamWritesWaitingRoundsTogether(t *testing.T) {
	h := newHub(t, Options{Coalesce: -1, PingInterval: time.Hour}) // a round per commit
	s, _ := h.Subscribe(everything{}, "")
	c := newGateConn()
	done := make(chan string, 1)
	go func() {
		done <- s.Stream(context.Background(), c, func(context.Context) (Access, error) { return everything{}, nil })
	}()
	t.Cleanup(func() { s.kick(ReasonShutdown); <-done })
	waitPending := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for s.pending.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("pending %d, want %d", s.pending.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	h.Commit(insert("c", "e0", "x"))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		up := strings.Contains(c.buf.String(), `"_id":"e0"`)
		c.mu.Unlock()
		if up {
			break // the stream is up and has written e0
		}
		if time.Now().After(deadline) {
			t.Fatal("e0 was not written within 5s")
		}
	}
	waitPending(0)
	c.set(true)
	h.Commit(insert("c", "e1", "x"))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		blocked := c.blocked
		c.mu.Unlock()
		if blocked {
			break // e1 is being written
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream did not start writing e1 within 5s")
		}
	}
	for i := 2; i <= 5; i++ {
		h.Commit(insert("c", fmt.Sprintf("e%d", i), "x"))
	}
	waitPending(5) // e1 is being written; e2..e5 wait
	before := c.set(false)
	waitPending(0)
	c.mu.Lock()
	flushes, out := c.flushes-before, c.buf.String()
	c.mu.Unlock()
	if flushes != 2 {
		t.Errorf("%d flushes for e1 and then the four rounds waiting, want 2", flushes)
	}
	last := -1
	for i := range 6 {
		at := strings.Index(out, fmt.Sprintf(`"_id":"e%d"`, i))
		if at < last {
			t.Fatalf("e%d missing or out of order in %q", i, out)
		}
		last = at
	}
}

// While most subscribers are still writing a round, the next waits for them (up to
// maxCoalesce); once they keep up, rounds are Coalesce apart again.
func TestRoundsWaitWhileMostSubscribersLag(t *testing.T) {
	h := newHub(t, Options{Coalesce: 10 * time.Millisecond, PingInterval: time.Hour})
	probe, _ := h.Subscribe(everything{}, "")
	pf, _, _ := stream(t, probe, false, nil)
	gate := newGateConn()
	gate.set(true) // every lagging stream blocks in its first write
	const laggards = 40
	ended := make(chan string, laggards)
	for range laggards {
		s, _ := h.Subscribe(everything{}, "")
		go func() {
			ended <- s.Stream(context.Background(), gate, func(context.Context) (Access, error) { return everything{}, nil })
		}()
	}
	t.Cleanup(func() {
		gate.set(false)
		h.Close()
		for range laggards {
			<-ended
		}
	})
	h.Commit(insert("c", "e1", "x"))
	next(t, pf)
	start := time.Now()
	h.Commit(insert("c", "e2", "x"))
	next(t, pf)
	if d := time.Since(start); d < maxCoalesce/2 {
		t.Errorf("with %d of %d subscribers lagging, the next round came after %s, want about %s", laggards, laggards+1, d, maxCoalesce)
	}
	gate.set(false)
	deadline := time.Now().Add(5 * time.Second)
	for h.busy.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers still busy after the gate opened", h.busy.Load())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(maxCoalesce) // the caught-up round's own spacing passes
	for i := range 3 {
		start := time.Now()
		h.Commit(insert("c", fmt.Sprintf("f%d", i), "x"))
		next(t, pf)
		if d := time.Since(start); d > maxCoalesce/2 {
			t.Errorf("with every subscriber keeping up, round %d came after %s", i, d)
		}
	}
}
