package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RealtimeConfig sizes the realtime section: Subscribers streams (full key) while writers
// create documents at Rate per second for Duration, and an unpaced create load of Duration at
// concurrency 16 with and without the subscribers.
type RealtimeConfig struct {
	Subscribers int
	Rate        int
	Duration    time.Duration
}

// RealtimeResult is what the realtime section measured.
type RealtimeResult struct {
	Subscribers int
	// Paced writes (Rate per second): achieved rate and acknowledgement latency without and
	// with subscribers, and the delivery latency from acknowledgement to each subscriber.
	PacedAlone, PacedWith Result
	Deliveries            int
	DeliveryP50           time.Duration
	DeliveryP99           time.Duration
	Missing               int // events a subscriber never got
	// Unpaced creates at concurrency 16 without and with subscribers.
	UnpacedAlone, UnpacedWith Result
	// RSS (VmRSS) of the idle dbserver before and after opening the streams.
	RSSBefore, RSSAfter int64
	// The dbserver's CPU time (user and system) during the paced writes without and with
	// subscribers: less noisy than latencies on a shared machine.
	CPUAlone, CPUWith time.Duration
}

const realtimeSettings = `{"realtime":{"enabled":true,"maxSubscribers":5000},"collections":[{"name":"rt"}]}`

// realtimeSection measures fan-out: delivery latency, writes with subscribers, memory per
// subscriber. Its client (a thousand streams that parse every event) shares the machine with
// the dbserver it measures.
func realtimeSection(ctx context.Context, cfg Config, rc RealtimeConfig, bin string, rep *Report, logf func(string, ...any)) error {
	dir, err := os.MkdirTemp(cfg.WorkDir, "realtime")
	if err != nil {
		return err
	}
	key, err := randKey()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true}}
	// The dbserver as deployed: streams do not count against --max-connections (default 128).
	var args []string
	var pprofAddr string
	if cfg.ProfileDir != "" {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof-listen="+pprofAddr)
	}
	proc, err := startDBServer(ctx, bin, dir, realtimeSettings, key, cfg.ServerLogLevel, client, args...)
	if err != nil {
		return err
	}
	defer proc.stop()
	base := "http://" + proc.addr
	res := &RealtimeResult{Subscribers: rc.Subscribers}
	var seq atomic.Int64
	body := func() []byte {
		return fmt.Appendf(nil, `{"bk":%d,"title":"realtime bench document","n":42,"tags":["a","b"]}`, seq.Add(1))
	}
	create := func(ctx context.Context) (string, error) {
		var id string
		err := send(ctx, client, http.MethodPost, base+"/rest/rt", key, body(), http.StatusCreated, func(b []byte) error {
			i := bytes.Index(b, []byte(`"_id":"`))
			if i < 0 || len(b) < i+7+24 {
				return errors.New("no _id in the answer")
			}
			id = string(b[i+7 : i+7+24])
			return nil
		})
		return id, err
	}
	// Warm up, then the idle RSS.
	for range 200 {
		if _, err := create(ctx); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	if res.RSSBefore, err = currentRSS(proc.cmd.Process.Pid); err != nil {
		return err
	}
	logf("realtime: paced writes at %d/s without subscribers ...", rc.Rate)
	cpu0, err := processCPU(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	if res.PacedAlone, _, err = pacedWrites(ctx, rc, create); err != nil {
		return err
	}
	cpu1, err := processCPU(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	res.CPUAlone = cpu1 - cpu0
	logf("realtime: unpaced creates without subscribers ...")
	if res.UnpacedAlone, err = runLoad(ctx, 16, 1<<30, rc.Duration, func(ctx context.Context, _ int) error { _, err := create(ctx); return err }); err != nil {
		return err
	}

	logf("realtime: opening %d streams ...", rc.Subscribers)
	subs, err := openStreams(ctx, proc.addr, key, rc.Subscribers)
	defer func() {
		for _, s := range subs {
			s.close()
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	if res.RSSAfter, err = currentRSS(proc.cmd.Process.Pid); err != nil {
		return err
	}

	logf("realtime: paced writes at %d/s with %d subscribers ...", rc.Rate, rc.Subscribers)
	for _, s := range subs {
		if s.parse {
			s.record(true, rc.Rate*int(rc.Duration.Seconds()+1))
		}
	}
	var acks map[string]time.Time
	var prof *profiling
	if cfg.ProfileDir != "" {
		if prof, err = startProfiling(ctx, cfg.ProfileDir, pprofAddr, rc.Duration); err != nil {
			return err
		}
	}
	cpu0, err = processCPU(proc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	res.PacedWith, acks, err = pacedWrites(ctx, rc, create)
	if cpu1, cerr := processCPU(proc.cmd.Process.Pid); cerr == nil {
		res.CPUWith = cpu1 - cpu0
	}
	if prof != nil {
		if perr := prof.stop(ctx); perr != nil {
			logf("realtime: profiles: %v", perr)
		}
	}
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the last events arrive
	var lat []time.Duration
	for _, s := range subs {
		if !s.parse {
			continue
		}
		got := s.record(false, 0)
		for id, ack := range acks {
			at, ok := got[id]
			if !ok {
				res.Missing++
				continue
			}
			lat = append(lat, max(0, at.Sub(ack)))
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.Deliveries = len(lat)
		res.DeliveryP50 = lat[len(lat)*50/100]
		res.DeliveryP99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	logf("realtime: unpaced creates with %d subscribers ...", rc.Subscribers)
	if res.UnpacedWith, err = runLoad(ctx, 16, 1<<30, rc.Duration, func(ctx context.Context, _ int) error { _, err := create(ctx); return err }); err != nil {
		return err
	}
	for _, s := range subs {
		if err := s.failed(); err != nil {
			return fmt.Errorf("a stream ended during the run: %w", err)
		}
	}
	rep.Realtime = res
	return nil
}

// pacedWrites creates documents at rc.Rate per second for rc.Duration, from a fixed pool of
// writers (so that a slow server meets the same connections, not a growing crowd of new
// ones), and returns each document's acknowledgement time. A create that starts late because
// every writer was busy counts its latency from when it was due.
func pacedWrites(ctx context.Context, rc RealtimeConfig, create func(context.Context) (string, error)) (Result, map[string]time.Time, error) {
	const writers = 64
	n := int(float64(rc.Rate) * rc.Duration.Seconds())
	interval := time.Second / time.Duration(rc.Rate)
	var mu sync.Mutex
	acks := make(map[string]time.Time, n)
	lat := make([]time.Duration, 0, n)
	var firstErr error
	due := make(chan time.Time, n)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range due {
				id, err := create(ctx)
				t1 := time.Now()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					acks[id] = t1
					lat = append(lat, t1.Sub(at))
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		due <- at
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Result{}, nil, firstErr
	}
	slices.Sort(lat)
	r := Result{Ops: len(lat), Elapsed: elapsed}
	if len(lat) > 0 {
		r.P50, r.P99 = lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r, acks, nil
}

// stream is one subscriber of the bench: it reads every event and, while recording, notes
// when each post event's document arrived.
type stream struct {
	conn net.Conn
	// parse: this stream notes its events' arrival; the others only read and discard (the
	// client shares the machine with the server: parsing a thousand streams would measure
	// the client).
	parse bool
	mu    sync.Mutex
	on    bool
	got   map[string]time.Time
	err   error
	done  chan struct{}
}

// sampleEvery: one stream in sampleEvery notes when its events arrive.
const sampleEvery = 10

// openStreams opens n streams with raw HTTP/1.1 over loopback (cheaper for the client than
// net/http) and waits for each one's first ping.
func openStreams(ctx context.Context, addr, key string, n int) ([]*stream, error) {
	var subs []*stream
	var d net.Dialer
	for i := range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return subs, fmt.Errorf("stream %d: %w", i, err)
		}
		s := &stream{conn: c, done: make(chan struct{}), parse: i%sampleEvery == 0}
		subs = append(subs, s)
		if _, err := fmt.Fprintf(c, "GET /realtime HTTP/1.1\r\nHost: %s\r\nx-apikey: %s\r\nAccept: text/event-stream\r\n\r\n", addr, key); err != nil {
			return subs, err
		}
		ready := make(chan error, 1)
		go s.read(ready)
		select {
		case err := <-ready:
			if err != nil {
				return subs, fmt.Errorf("stream %d: %w", i, err)
			}
		case <-time.After(30 * time.Second):
			return subs, fmt.Errorf("stream %d: no ping within 30s", i)
		}
	}
	return subs, nil
}

func (s *stream) read(ready chan<- error) {
	defer close(s.done)
	raw := bufio.NewReaderSize(s.conn, 64<<10)
	status, err := raw.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		ready <- fmt.Errorf("status %q: %v", strings.TrimSpace(status), err)
		return
	}
	for { // the headers
		h, err := raw.ReadString('\n')
		if err != nil {
			ready <- err
			return
		}
		if h == "\r\n" {
			break
		}
	}
	br := bufio.NewReaderSize(httputil.NewChunkedReader(raw), 64<<10)
	signalled := false
	idKey := []byte(`"_id":"`)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			if !signalled {
				ready <- err
			}
			return
		}
		if !signalled && bytes.HasPrefix(line, []byte("event: ping")) {
			signalled = true
			ready <- nil
			if !s.parse {
				err := s.discard(raw)
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
		}
		// Other fields are skipped; post data carries the _id.
		if !bytes.HasPrefix(line, []byte("data: {\"event\":\"post\"")) {
			continue
		}
		i := bytes.Index(line, idKey)
		if i < 0 || len(line) < i+len(idKey)+24 {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		if s.on {
			s.got[string(line[i+len(idKey):i+len(idKey)+24])] = now
		}
		s.mu.Unlock()
	}
}

// discardEvery spaces the reads of the streams that do not time their events.
const discardEvery = 100 * time.Millisecond

// discard reads and drops everything the stream sends until it fails, in large reads spaced
// discardEvery apart. Nine streams in ten only have to be read for the server's sake (a
// socket nobody reads fills and the server drops the stream as slow); reading them as each
// event arrives would cost the client, which shares the cores with the server it measures,
// a wakeup and a read per stream per round. The server's work is the same either way: it
// writes every round to every socket. The chunked framing is not parsed: nothing is looked at.
func (s *stream) discard(raw *bufio.Reader) error {
	if _, err := raw.Discard(raw.Buffered()); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	time.Sleep(time.Duration(rand.Int64N(int64(discardEvery)))) // spread the streams' reads
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return err
		}
		if n < len(buf) {
			time.Sleep(discardEvery)
		}
	}
}

// record starts (on, room for n events: a map that grows while events arrive costs the
// client) or stops recording; stopping returns what was recorded.
func (s *stream) record(on bool, n int) map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = on
	got := s.got
	if on {
		s.got = make(map[string]time.Time, n)
	} else {
		s.got = nil
	}
	return got
}

func (s *stream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *stream) close() {
	_ = s.conn.Close()
	<-s.done
}

// processCPU reads the process's CPU time, user and system (/proc/<pid>/stat, in clock ticks
// of 10 ms: Linux's USER_HZ is 100 on every architecture Go supports).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("a /proc stat line too short")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// currentRSS reads the process's resident set size (VmRSS) in bytes.
func currentRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// printRealtime writes the realtime section.
func (r *RealtimeResult) print(w *strings.Builder) {
	fmt.Fprintf(w, "\nrealtime (%d subscribers, full key, every one hears every create; delivery timed on every %dth):\n", r.Subscribers, sampleEvery)
	row := func(name string, res Result) {
		fmt.Fprintf(w, "  %-52s %9.0f ops/s  p50 %s  p99 %s\n", name, res.OpsPerSec(), ms(res.P50), ms(res.P99))
	}
	row("paced creates, no subscribers", r.PacedAlone)
	row(fmt.Sprintf("paced creates, %d subscribers", r.Subscribers), r.PacedWith)
	fmt.Fprintf(w, "  %-52s %9d events p50 %s  p99 %s  missing %d\n", "delivery after the create's acknowledgement", r.Deliveries, ms(r.DeliveryP50), ms(r.DeliveryP99), r.Missing)
	fmt.Fprintf(w, "  %-52s %9.2f cores without subscribers, %.2f with them\n", "dbserver CPU during the paced creates",
		r.CPUAlone.Seconds()/r.PacedAlone.Elapsed.Seconds(), r.CPUWith.Seconds()/r.PacedWith.Elapsed.Seconds())
	row("unpaced creates (16 writers), no subscribers", r.UnpacedAlone)
	row(fmt.Sprintf("unpaced creates (16 writers), %d subscribers", r.Subscribers), r.UnpacedWith)
	fmt.Fprintf(w, "  idle RSS %.1f MiB before the streams, %.1f MiB with them: %.1f KiB per subscriber\n",
		float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), r.perSubscriberKiB())
}

func (r *RealtimeResult) perSubscriberKiB() float64 {
	if r.Subscribers == 0 {
		return 0
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Subscribers) / 1024
}

// targets are the realtime issue's targets on this run.
func (r *RealtimeResult) targets() []Target {
	paced := r.PacedWith.OpsPerSec() / r.PacedAlone.OpsPerSec()
	return []Target{
		{Name: fmt.Sprintf("realtime delivery p99 <= 50 ms (%d subscribers)", r.Subscribers), Value: ms(r.DeliveryP99), Met: r.DeliveryP99 <= 50*time.Millisecond && r.Missing == 0},
		{Name: "realtime paced write rate with subscribers >= 80% of without", Value: fmt.Sprintf("%.0f%%", paced*100), Met: paced >= 0.8},
		{Name: "realtime memory per idle subscriber <= 64 KiB", Value: fmt.Sprintf("%.1f KiB", r.perSubscriberKiB()), Met: r.perSubscriberKiB() <= 64},
	}
}
