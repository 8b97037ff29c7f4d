package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/testutil"
)

// Keys of the realtime scenarios.
const (
	chanKey    = "web-channels-key-0123456789"
	pubKey     = "web-publish-key-0123456789"
	noChanKey  = "web-nochannel-key-0123456789"
	pingPeriod = 200 * time.Millisecond
)

// realtimeConfig is testConfig with realtime on and web keys that have channels.
func realtimeConfig() *settings.Config {
	cfg := testConfig()
	cfg.Settings.Realtime = settings.Realtime{Enabled: true, MaxSubscribers: 5, UserChannels: []string{"POST:*", "PUT:*", "DELETE:*", "PUBLISH:chat"}}
	cfg.Settings.APIKeys.Web = append(cfg.Settings.APIKeys.Web,
		settings.WebKey{Name: "chan", Key: chanKey, Paths: []string{"/tasks/**", "/items/**"}, Channels: []string{"POST:tasks", "DELETE:tasks"}},
		settings.WebKey{Name: "pub", Key: pubKey, Paths: []string{"/public/**"}, Channels: []string{"PUBLISH:chat", "*:public"}},
		settings.WebKey{Name: "nochan", Key: noChanKey, Paths: []string{"/**"}},
	)
	return cfg
}

// revocable is fakeAuth with tokens that can be revoked while streams are open.
type revocable struct {
	fakeAuth
	mu      sync.Mutex
	revoked map[string]bool
}

func (b *revocable) Authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	b.mu.Lock()
	r := b.revoked[token]
	b.mu.Unlock()
	if r {
		return nil, fmt.Errorf("%w: token has been revoked", auth.ErrUnauthorized)
	}
	return fakeAuth{}.Authenticate(ctx, token)
}

func (b *revocable) revoke(token string) {
	b.mu.Lock()
	b.revoked[token] = true
	b.mu.Unlock()
}

// rtEnv is a server with a realtime hub fed by its store.
type rtEnv struct {
	*env
	hub    *realtime.Hub
	bearer *revocable
}

func newRealtimeEnv(t *testing.T, hubOpts realtime.Options) *rtEnv {
	t.Helper()
	e := newRealtimeEnvTB(t, hubOpts)
	e.env.t = t
	return e
}

func newRealtimeEnvTB(t testing.TB, hubOpts realtime.Options) *rtEnv {
	t.Helper()
	return newRealtimeEnvConns(t, hubOpts, 0)
}

// newRealtimeEnvConns is newRealtimeEnvTB with LimitListener(maxConns) (0: no cap).
func newRealtimeEnvConns(t testing.TB, hubOpts realtime.Options, maxConns int) *rtEnv {
	t.Helper()
	src := settings.StaticSource(realtimeConfig())
	reg := prometheus.NewRegistry()
	hubOpts.Registerer = reg
	if hubOpts.PingInterval == 0 {
		hubOpts.PingInterval = pingPeriod
	}
	hubOpts.Enabled = func() bool { return src.Current().Settings.Realtime.Enabled }
	hubOpts.MaxSubscribers = func() int { return src.Current().Settings.Realtime.MaxSubscribers }
	hub, err := realtime.New(hubOpts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{OnCommit: hub.Commit})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, src: src, reg: reg, logs: &testutil.LockedBuffer{}, ids: map[string]string{}}
	b := &revocable{revoked: map[string]bool{}}
	srv, err := New(Options{
		Store: st, Settings: src, Registry: reg, Auth: b, Realtime: hub,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	// Short request timeouts, as the dbserver has long ones: streams must outlive them.
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Config.WriteTimeout = 300 * time.Millisecond
	hs.Config.RegisterOnShutdown(hub.Close)
	if maxConns > 0 {
		hs.Listener = LimitListener(hs.Listener, maxConns)
	}
	hs.Start()
	t.Cleanup(func() {
		hub.Close()
		hs.Close()
		st.Close()
	})
	e.url = hs.URL
	return &rtEnv{env: e, hub: hub, bearer: b}
}

// sse is one open stream as a client reads it.
type sse struct {
	t      *testing.T
	res    *http.Response
	events chan frame
	cancel context.CancelFunc
}

type frame struct{ id, name, data string }

// subscribe opens GET /realtime<query> with headers and expects a stream.
func (e *rtEnv) subscribe(query string, headers map[string]string) *sse {
	e.t.Helper()
	s, status, body := e.open(query, headers)
	if status != http.StatusOK {
		e.t.Fatalf("GET /realtime%s: %d %s", query, status, body)
	}
	return s
}

// open opens GET /realtime<query>; on an error answer it returns the status and body.
func (e *rtEnv) open(query string, headers map[string]string) (*sse, int, string) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/realtime"+query, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("GET /realtime: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		defer cancel()
		defer res.Body.Close()
		var b strings.Builder
		_, _ = bufio.NewReader(res.Body).WriteTo(&b)
		return nil, res.StatusCode, b.String()
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		e.t.Fatalf("Content-Type %q", ct)
	}
	s := &sse{t: e.t, res: res, events: make(chan frame, 1000), cancel: cancel}
	e.t.Cleanup(s.close)
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.name != "" {
					s.events <- f
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
	return s, res.StatusCode, ""
}

func (s *sse) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next event other than ping.
func (s *sse) next() frame {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-s.events:
			if !ok {
				s.t.Fatal("the stream ended")
			}
			if f.name != realtime.EventPing {
				return f
			}
		case <-timeout:
			s.t.Fatal("no event within 5s")
		}
	}
}

// ended waits until the stream ends (the server closed it).
func (s *sse) ended(within time.Duration) bool {
	timeout := time.After(within)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// nextData returns the next event's name and data decoded.
func (s *sse) nextData() (string, map[string]any) {
	s.t.Helper()
	f := s.next()
	var d map[string]any
	if err := json.Unmarshal([]byte(f.data), &d); err != nil {
		s.t.Fatalf("event %s: data %q is not JSON: %v", f.name, f.data, err)
	}
	return f.name, d
}

func (e *rtEnv) must(method, url string, headers map[string]string, body string, status int) response {
	e.t.Helper()
	r := e.do(method, url, headers, body)
	if r.status != status {
		e.t.Fatalf("%s %s: %d %s, want %d", method, url, r.status, r.body, status)
	}
	return r
}

// created returns the _id of a create answer.
func created(t *testing.T, r response) string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatal(err)
	}
	return d["_id"].(string)
}

// Every event type reaches a full-key subscriber in restdb.io's shapes, in commit order, each
// with an id; the first frame is a ping whose data is a date.
func TestRealtimeEventTypesForTheFullKey(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	s := e.subscribe("?apikey="+fullKey, nil)
	select {
	case f := <-s.events:
		if _, err := time.Parse(jsondoc.TimeFormat, f.data); f.name != "ping" || err != nil {
			t.Fatalf("first frame %+v, want a ping with a date", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ping")
	}

	id := created(t, e.must("POST", "/rest/items", key(fullKey), `{"name":"fig","n":9}`, 201))
	name, d := s.nextData()
	doc, _ := d["data"].(map[string]any)
	if name != "post" || d["event"] != "post" || d["collection"] != "items" || doc["_id"] != id || doc["name"] != "fig" || doc["_createdby"] != "api" {
		t.Fatalf("post event %s %v", name, d)
	}
	e.must("PUT", "/rest/items/"+id, key(fullKey), `{"n":10}`, 200)
	if name, d := s.nextData(); name != "put" || d["event"] != "put" || d["collection"] != "items" || d["data"] != id {
		t.Fatalf("put event %s %v", name, d)
	}
	e.must("PATCH", "/rest/items/"+id, key(fullKey), `{"$inc":{"n":1}}`, 200)
	if name, d := s.nextData(); name != "put" || d["data"] != id {
		t.Fatalf("patch event %s %v", name, d)
	}
	bulk := e.must("POST", "/rest/items", key(fullKey), `[{"name":"a"},{"name":"b"}]`, 201)
	var docs []map[string]any
	_ = json.Unmarshal([]byte(bulk.body), &docs)
	for i := range docs {
		if name, d := s.nextData(); name != "post" || d["data"].(map[string]any)["_id"] != docs[i]["_id"] {
			t.Fatalf("bulk post event %d: %s %v", i, name, d)
		}
	}
	e.must("DELETE", "/rest/items/"+id, key(fullKey), "", 200)
	if name, d := s.nextData(); name != "delete" || fmt.Sprint(d["data"]) != fmt.Sprint([]any{id}) {
		t.Fatalf("delete event %s %v", name, d)
	}
	e.must("DELETE", "/rest/items/*", key(fullKey), fmt.Sprintf(`[%q,%q]`, docs[0]["_id"], docs[1]["_id"]), 200)
	if name, d := s.nextData(); name != "delete" || fmt.Sprint(d["data"]) != fmt.Sprint([]any{docs[0]["_id"], docs[1]["_id"]}) {
		t.Fatalf("bulk delete event %s %v", name, d)
	}
	e.must("POST", "/rest/items", key(fullKey), `[{"k":1},{"k":1},{"k":2}]`, 201)
	for range 3 {
		s.next()
	}
	e.must("DELETE", `/rest/items/*?q={"k":1}`, key(fullKey), "", 200)
	if name, d := s.nextData(); name != "delete" || len(d["data"].([]any)) != 2 {
		t.Fatalf("delete-by-query event %s %v", name, d)
	}
	r := e.must("POST", "/realtime", key(fullKey), `{"event":"chat","data":{"text":"hello\nworld"}}`, 200)
	f := s.next()
	if f.name != "publish" || f.data != `{"event":"chat","data":{"text":"hello\nworld"}}` || !strings.Contains(r.body, f.id) {
		t.Fatalf("publish event %+v (answer %s)", f, r.body)
	}
	// Pings keep coming.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-s.events:
			if f.name == "ping" {
				return
			}
		case <-deadline:
			t.Fatal("no ping after the first")
		}
	}
}

// A web key hears its channels, only on paths it may read; without channels it is refused.
func TestRealtimeWebKeyChannels(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	s := e.subscribe("?apikey="+chanKey, nil)
	// Headers work as well as the query parameter.
	h := e.subscribe("", key(chanKey))
	e.must("POST", "/rest/items", key(fullKey), `{"x":"not a channel of the key"}`, 201)
	e.must("POST", "/rest/notes", key(fullKey), `{"x":"neither channel nor path"}`, 201)
	id := created(t, e.must("POST", "/rest/tasks", key(fullKey), `{"title":"t"}`, 201))
	e.must("PUT", "/rest/tasks/"+id, key(fullKey), `{"title":"u"}`, 200) // PUT is not a channel of the key
	e.must("DELETE", "/rest/tasks/"+id, key(fullKey), "", 200)
	for _, sub := range []*sse{s, h} {
		if name, d := sub.nextData(); name != "post" || d["collection"] != "tasks" {
			t.Fatalf("first event %s %v, want the post to tasks", name, d)
		}
		if name, d := sub.nextData(); name != "delete" || d["collection"] != "tasks" {
			t.Fatalf("second event %s %v, want the delete in tasks", name, d)
		}
	}
	// Publishing needs PUBLISH:<event>.
	e.must("POST", "/realtime", key(chanKey), `{"event":"chat","data":1}`, 403)
	p := e.subscribe("?apikey="+pubKey, nil)
	e.must("POST", "/realtime", key(pubKey), `{"event":"other","data":1}`, 403)
	e.must("POST", "/realtime", key(pubKey), `{"event":"chat","data":[1,2]}`, 200)
	if f := p.next(); f.name != "publish" || f.data != `{"event":"chat","data":[1,2]}` {
		t.Fatalf("publish %+v", f)
	}
	// The channel key does not hear chat; its next event is the next post to tasks.
	e.must("POST", "/rest/tasks", key(fullKey), `{"title":"after"}`, 201)
	if name, _ := s.nextData(); name != "post" {
		t.Fatalf("the channel key heard %s", name)
	}
	for _, c := range []struct {
		query   string
		headers map[string]string
		status  int
	}{
		{"?apikey=" + noChanKey, nil, 403},
		{"?apikey=wrong", nil, 401},
		{"", nil, 401},
		{"?apikey=" + siteKey, nil, 403}, // a key bound to an origin, without it
	} {
		if _, status, body := e.open(c.query, c.headers); status != c.status || !strings.Contains(body, `"status":`) {
			t.Errorf("GET /realtime%s: %d %s, want %d with a JSON error", c.query, status, body, c.status)
		}
	}
}

// An external user hears the collections it may read, and in a private collection only its own
// documents (a delete of several documents is cut down to its own).
func TestRealtimeExternalUsersAndPrivateData(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	alice := e.subscribe("?access_token=alice", nil)
	bob := e.subscribe("", bearer("bob"))
	mine := created(t, e.must("POST", "/rest/tasks", bearer("alice"), `{"title":"alice's"}`, 201))
	theirs := created(t, e.must("POST", "/rest/tasks", bearer("bob"), `{"title":"bob's"}`, 201))
	e.must("POST", "/rest/secret", key(fullKey), `{"x":1}`, 201) // no rule for external
	e.must("DELETE", "/rest/tasks/*", key(fullKey), fmt.Sprintf(`[%q,%q]`, mine, theirs), 200)
	e.must("POST", "/rest/public", key(fullKey), `{"title":"for all"}`, 201)
	e.must("POST", "/realtime", bearer("bob"), `{"event":"chat","data":"hi"}`, 200)
	for _, c := range []struct {
		s    *sse
		own  string
		name string
	}{{alice, mine, "alice"}, {bob, theirs, "bob"}} {
		if name, d := c.s.nextData(); name != "post" || d["data"].(map[string]any)["_id"] != c.own {
			t.Errorf("%s: first event %s %v, want the post of its own task", c.name, name, d)
		}
		if name, d := c.s.nextData(); name != "delete" || fmt.Sprint(d["data"]) != fmt.Sprint([]any{c.own}) {
			t.Errorf("%s: second event %s %v, want a delete of its own task only", c.name, name, d)
		}
		if name, d := c.s.nextData(); name != "post" || d["collection"] != "public" {
			t.Errorf("%s: third event %s %v, want the post to public", c.name, name, d)
		}
		if name, d := c.s.nextData(); name != "publish" || d["event"] != "chat" {
			t.Errorf("%s: fourth event %s %v, want the chat message", c.name, name, d)
		}
	}
	// A user with no rule on a collection hears nothing of it; roles without userChannels
	// publish rights may not publish other events.
	e.must("POST", "/realtime", bearer("alice"), `{"event":"secret","data":1}`, 403)
	if _, status, _ := e.open("?access_token=expired", nil); status != 401 {
		t.Errorf("a bad access_token: %d", status)
	}
	// Secrets in the query string never reach the log.
	logs := e.logs.String()
	for _, secret := range []string{fullKey, chanKey, "access_token=alice", "alice\""} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// A revoked token, a removed web key, or realtime turned off ends the streams within a ping or
// two; the full key's stream survives what does not concern it.
func TestRealtimeRevocation(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	alice := e.subscribe("?access_token=alice", nil)
	bob := e.subscribe("", bearer("bob"))
	web := e.subscribe("?apikey="+chanKey, nil)
	full := e.subscribe("?apikey="+fullKey, nil)

	e.bearer.revoke("alice")
	if !alice.ended(10 * pingPeriod) {
		t.Fatal("a revoked token's stream still runs")
	}
	cfg := realtimeConfig()
	cfg.Settings.APIKeys.Web = cfg.Settings.APIKeys.Web[:3] // the channel key is removed
	e.src.Set(cfg)
	if !web.ended(10 * pingPeriod) {
		t.Fatal("a removed key's stream still runs")
	}
	e.must("POST", "/rest/public", key(fullKey), `{"still":"here"}`, 201)
	for _, s := range []*sse{bob, full} {
		if name, _ := s.nextData(); name != "post" {
			t.Fatalf("a stream that keeps its rights heard %s", name)
		}
	}
	// A user deactivated: the fake verifier answers 403 for "inactive"; a rotated full key is
	// a changed api-key file.
	cfg2 := realtimeConfig()
	cfg2.APIKey = "rotated-full-key-0123456789"
	e.src.Set(cfg2)
	if !full.ended(10 * pingPeriod) {
		t.Fatal("the stream of a rotated full key still runs")
	}
	off := realtimeConfig()
	off.Settings.Realtime.Enabled = false
	e.src.Set(off)
	if !bob.ended(10 * pingPeriod) {
		t.Fatal("turning realtime off left a stream open")
	}
	if _, status, _ := e.open("?apikey="+fullKey, nil); status != 404 {
		t.Errorf("GET /realtime while off: %d, want 404", status)
	}
	e.must("POST", "/realtime", key(fullKey), `{"event":"x"}`, 404)
	metrics := e.do("GET", "/metrics", nil, "").body
	if !strings.Contains(metrics, `restkube_realtime_disconnects_total{reason="revoked"} 4`) {
		t.Errorf("metrics lack 4 revoked disconnects:\n%s", grepLines(metrics, "realtime"))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A client back with Last-Event-ID gets what it missed; with an id the ring no longer covers,
// a reset; both through the header and the polyfill's query parameter.
func TestRealtimeReplayAndReset(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{RingEvents: 4})
	s := e.subscribe("?apikey="+fullKey, nil)
	e.must("POST", "/rest/items", key(fullKey), `{"n":1}`, 201)
	first := s.next()
	s.close()
	a := created(t, e.must("POST", "/rest/items", key(fullKey), `{"n":2}`, 201))
	b := created(t, e.must("POST", "/rest/items", key(fullKey), `{"n":3}`, 201))
	for _, back := range []*sse{
		e.subscribe("?apikey="+fullKey, map[string]string{"Last-Event-ID": first.id}),
		e.subscribe("?apikey="+fullKey+"&lastEventId="+first.id, nil),
	} {
		for _, want := range []string{a, b} {
			if name, d := back.nextData(); name != "post" || d["data"].(map[string]any)["_id"] != want {
				t.Fatalf("replayed %s %v, want the post of %s", name, d, want)
			}
		}
		back.close()
	}
	// Four more push the first ones out of the ring (once dispatched: watch sees them).
	watch := e.subscribe("?apikey="+fullKey, nil)
	for range 4 {
		e.must("POST", "/rest/items", key(fullKey), `{"n":4}`, 201)
	}
	for range 4 {
		watch.next()
	}
	late := e.subscribe("?apikey="+fullKey, map[string]string{"Last-Event-ID": first.id})
	f := late.next()
	if f.name != "reset" || f.id == "" || f.id == first.id {
		t.Fatalf("first event %+v, want a reset carrying the newest id", f)
	}
	e.must("POST", "/rest/items", key(fullKey), `{"n":5}`, 201)
	if name, _ := late.nextData(); name != "post" {
		t.Fatalf("after the reset: %s", name)
	}
}

// The cap answers 503 at once, with Retry-After and our JSON error.
func TestRealtimeSubscriberCap(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	var open []*sse
	for range 5 {
		open = append(open, e.subscribe("?apikey="+fullKey, nil))
	}
	start := time.Now()
	_, status, body := e.open("?apikey="+fullKey, nil)
	if status != 503 || !strings.Contains(body, `"name":"ServiceUnavailable"`) || time.Since(start) > time.Second {
		t.Fatalf("the sixth subscriber: %d %s after %s", status, body, time.Since(start))
	}
	open[0].close()
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Subscribers() > 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e.subscribe("?apikey="+fullKey, nil)
}

// Streams outlive the server's read and write timeouts (300 ms here), and the shutdown of the
// server ends them at once.
func TestRealtimeOutlivesServerTimeoutsAndEndsOnShutdown(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{PingInterval: time.Hour})
	s := e.subscribe("?apikey="+fullKey, nil)
	time.Sleep(time.Second) // longer than both timeouts: what is tested is that nothing happens
	e.must("POST", "/rest/items", key(fullKey), `{"late":true}`, 201)
	if name, _ := s.nextData(); name != "post" {
		t.Fatalf("got %s", name)
	}
	start := time.Now()
	e.hub.Close()
	if !s.ended(2 * time.Second) {
		t.Fatal("closing the hub left the stream open")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ending the stream took %s", d)
	}
}

// Bad publish requests get clear errors.
func TestRealtimePublishErrors(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	for _, c := range []struct{ body, want string }{
		{`{"event":"1bad","data":1}`, `"field":"event"`},
		{`{"data":1}`, `"field":"event"`},
		{`{"event":"ok","data":1,"extra":2}`, "extra"},
		{`not json`, "ValidationError"},
		{`{"event":"ok","data":"` + strings.Repeat("x", 70<<10) + `"}`, "PayloadTooLarge"},
	} {
		r := e.do("POST", "/realtime", key(fullKey), c.body)
		if r.status/100 != 4 || !strings.Contains(r.body, c.want) {
			t.Errorf("%.40s: %d %s, want a 4xx naming %s", c.body, r.status, r.body, c.want)
		}
	}
	if r := e.do("DELETE", "/realtime", key(fullKey), ""); r.status != 405 {
		t.Errorf("DELETE /realtime: %d", r.status)
	}
}

// Streams do not hold the connection cap's slots (realtime.maxSubscribers caps them): with a
// cap of 2 connections, four streams are open and writes still get through.
func TestRealtimeStreamsDoNotTakeConnectionSlots(t *testing.T) {
	e := newRealtimeEnvConns(t, realtime.Options{}, 2)
	e.env.t = t
	var streams []*sse
	for range 4 {
		streams = append(streams, e.subscribe("?apikey="+fullKey, nil))
	}
	e.must("POST", "/rest/items", key(fullKey), `{"n":1}`, 201)
	for i, s := range streams {
		if name, _ := s.nextData(); name != "post" {
			t.Fatalf("stream %d got %s, want the post", i, name)
		}
	}
}

// A stream's connection ends with it: the answer says so, so that a client does not reuse the
// connection for a next request after the last chunk (that request would meet a closed
// connection).
func TestRealtimeStreamConnectionIsNotReused(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})
	s := e.subscribe("?apikey="+fullKey, nil)
	if !s.res.Close || s.res.Header.Get("Cache-Control") != "no-cache, no-transform" {
		t.Fatalf("Close %v, headers %v: want Connection: close and the stream's headers", s.res.Close, s.res.Header)
	}
	if len(s.res.TransferEncoding) != 1 || s.res.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %v, want chunked", s.res.TransferEncoding)
	}
}
