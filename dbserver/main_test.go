package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// binary is the dbserver built once for every test of this file.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dbserver-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "dbserver")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building dbserver: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// proc is a running dbserver.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

// start runs the binary and waits until it logs the address it listens on.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary, append([]string{"serve", "--listen=127.0.0.1:0"}, args...)...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting dbserver: %v", err)
	}
	addr := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			p.mu.Lock()
			p.stdout.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	select {
	case a := <-addr:
		p.addr = "http://" + a
	case <-p.done:
		p.cmd.Wait()
		t.Fatalf("dbserver exited before listening:\n%s", p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("dbserver did not listen within 30s:\n%s", p.logs())
	}
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("dbserver did not stop within 20s of SIGTERM:\n%s", p.logs())
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		p.t.Fatalf("wait: %v", err)
	}
	return 0
}

// status does one request with an optional API key and returns its status.
func (p *proc) status(method, path, key, body string) int {
	p.t.Helper()
	if key == "" {
		code, _ := p.request(method, path, "", "", body)
		return code
	}
	code, _ := p.request(method, path, "x-apikey", key, body)
	return code
}

// request does one request, with header set to value unless header is "", and returns its
// status and body.
func (p *proc) request(method, path, header, value, body string) (int, string) {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.addr+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if header != "" {
		req.Header.Set(header, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

const (
	oldKey = "old-key-0123456789abcdef0123456789abcdef"
	newKey = "new-key-0123456789abcdef0123456789abcdef"
)

func TestAPIKeyRotationByRename(t *testing.T) {
	cfgDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "settings.json"), `{"limits":{"maxBodyBytes":4096}}`)
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey+"\n")
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), "signing-0123456789")
	p := start(t, "--data-dir="+t.TempDir(), "--config-dir="+cfgDir)

	if s := p.status("POST", "/rest/things", oldKey, `{"a":1}`); s != 201 {
		t.Fatalf("create with the old key: %d", s)
	}
	if s := p.status("GET", "/rest/things", newKey, ""); s != 401 {
		t.Fatalf("the new key before rotation: %d, want 401", s)
	}
	testutil.ReplaceByRename(t, filepath.Join(cfgDir, "api-key"), newKey)
	testutil.EventuallyTrue(t, 10*time.Second, "the new key accepted", func() bool { return p.status("GET", "/rest/things", newKey, "") == 200 })
	if s := p.status("GET", "/rest/things", oldKey, ""); s != 401 {
		t.Errorf("the old key after rotation: %d, want 401", s)
	}

	// A broken settings.json is refused and the last good config stays in force.
	testutil.ReplaceByRename(t, filepath.Join(cfgDir, "settings.json"), `{"bogus":true}`)
	testutil.EventuallyTrue(t, 10*time.Second, "the broken settings logged", func() bool { return strings.Contains(p.logs(), "bogus") })
	if s := p.status("GET", "/rest/things", newKey, ""); s != 200 {
		t.Errorf("after a broken settings.json: %d, want 200 with the last good key", s)
	}
	if strings.Contains(p.logs(), oldKey) || strings.Contains(p.logs(), newKey) {
		t.Errorf("logs hold a key:\n%s", p.logs())
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0:\n%s", code, p.logs())
	}
}

// kubeletDir lays out a config dir as the kubelet does for a projected volume: the files live
// in a timestamped directory, ..data points to it, and each name is a symlink through ..data.
func kubeletDir(t *testing.T, dir, version string, files map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_"+version)
	if err := os.Mkdir(ts, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		testutil.WriteFile(t, filepath.Join(ts, name), content)
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmpLink); err != nil {
		t.Fatal(err)
	}
	// The atomic swap: rename the new link over ..data.
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKubeletSymlinkSwap(t *testing.T) {
	cfgDir := t.TempDir()
	kubeletDir(t, cfgDir, "a", map[string]string{"settings.json": `{}`, "api-key": oldKey, "signing-key": "s1-0123456789"})
	p := start(t, "--data-dir="+t.TempDir(), "--config-dir="+cfgDir)
	if s := p.status("GET", "/rest/things", oldKey, ""); s != 200 {
		t.Fatalf("the first key: %d", s)
	}
	kubeletDir(t, cfgDir, "b", map[string]string{"settings.json": `{}`, "api-key": newKey, "signing-key": "s2-0123456789"})
	if err := os.RemoveAll(filepath.Join(cfgDir, "..2026_a")); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 10*time.Second, "the swapped key accepted", func() bool { return p.status("GET", "/rest/things", newKey, "") == 200 })
	if s := p.status("GET", "/rest/things", oldKey, ""); s != 401 {
		t.Errorf("the old key after the swap: %d, want 401", s)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

var printedKey = regexp.MustCompile(`(?m)^API key: ([0-9a-f]{64})$`)

func TestStandaloneGeneratesKeysOnce(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, "--data-dir="+dataDir)
	testutil.EventuallyTrue(t, 5*time.Second, "the API key printed", func() bool { return printedKey.MatchString(p.out()) })
	key := printedKey.FindStringSubmatch(p.out())[1]
	for _, name := range []string{"api-key", "signing-key"} {
		fi, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	// Standalone, the console is on and its address printed once the listener is up.
	consoleLine := regexp.MustCompile(`(?m)^Console: (http://127\.0\.0\.1:\d+/console/)$`)
	testutil.EventuallyTrue(t, 5*time.Second, "the console's URL printed", func() bool { return consoleLine.MatchString(p.out()) })
	console := consoleLine.FindStringSubmatch(p.out())
	if console == nil || console[1] != p.addr+"/console/" {
		t.Errorf("stdout %q does not print the console's URL %s/console/", p.out(), p.addr)
	} else if s := p.status("GET", "/console/", "", ""); s != 200 {
		t.Errorf("GET /console/: %d, want 200", s)
	}
	if s := p.status("POST", "/rest/notes", key, `{"text":"kept"}`); s != 201 {
		t.Fatalf("create with the printed key: %d", s)
	}
	if strings.Contains(p.logs(), key) {
		t.Errorf("the key is in the logs")
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, p.logs())
	}

	// Second start: the same key, not printed again, and the data is still there (the store
	// was closed cleanly, so its lock is free).
	p2 := start(t, "--data-dir="+dataDir)
	if s := p2.status("GET", `/rest/notes?q={"text":"kept"}`, key, ""); s != 200 {
		t.Errorf("the key after a restart: %d, want 200", s)
	}
	if code := p2.stop(); code != 0 {
		t.Errorf("second exit code %d, want 0", code)
	}
	if strings.Contains(p2.out(), key) {
		t.Errorf("the key was printed again: %q", p2.out())
	}
}

func TestGracefulShutdownDrainsRequests(t *testing.T) {
	dataDir := t.TempDir()
	cfgDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey)
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), "signing-0123456789")
	p := start(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)
	if s := p.status("GET", "/readyz", "", ""); s != 200 {
		t.Fatalf("/readyz: %d", s)
	}
	// A request whose body is still arriving when SIGTERM comes must be served, not cut. With
	// Expect: 100-continue the server answers "100 Continue" only once the handler reads the
	// body, which proves the request is in flight before the signal is sent.
	pr, pw := io.Pipe()
	inFlight := make(chan struct{})
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(inFlight) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", p.addr+"/rest/things", pr)
	req.Header.Set("x-apikey", oldKey)
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	result := make(chan int, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			result <- -1
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "draining logged", func() bool { return strings.Contains(p.logs(), "draining") })
	if _, err := pw.Write([]byte(`{"slow":true}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if s := <-result; s != 201 {
		t.Errorf("the request in flight at SIGTERM: %d, want 201", s)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	err := p.cmd.Wait()
	if err != nil {
		t.Errorf("exit: %v, want code 0\n%s", err, p.logs())
	}
	if !strings.Contains(p.logs(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", p.logs())
	}
}

func TestVersionFlag(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !strings.HasPrefix(string(out), "dbserver dev (unknown)") {
		t.Errorf("--version printed %q", out)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"no command":      nil,
		"unknown command": {"frobnicate"},
		"unknown flag":    {"serve", "--nope"},
		"bad log level":   {"serve", "--log-level=loud"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(args, &out, &errOut); code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, errOut.String())
			}
		})
	}
}

func TestHeldLockFailsFast(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, "--data-dir="+dataDir)
	begin := time.Now()
	second := exec.Command(binary, "serve", "--listen=127.0.0.1:0", "--data-dir="+dataDir)
	out, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("a second server on the same data dir: %v, want exit 1\n%s", err, out)
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("took %s to fail", d)
	}
	if !strings.Contains(string(out), "opening the database") {
		t.Errorf("unclear message: %s", out)
	}
	p.stop()
}

// planOf is how the server answered GET path: the X-Restkube-Plan header.
func (p *proc) planOf(path, key string) string {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.addr+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("x-apikey", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	return res.Header.Get("X-Restkube-Plan")
}

// startConfigured starts a dbserver on a fresh data dir and a config dir holding empty
// settings, oldKey and a signing key; it returns the process and the config dir.
func startConfigured(t *testing.T) (*proc, string) {
	t.Helper()
	cfgDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "settings.json"), `{}`)
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey)
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), "signing-0123456789")
	return start(t, "--data-dir="+t.TempDir(), "--config-dir="+cfgDir), cfgDir
}

// TestIndexesFollowSettings: an index declared in settings.json is built for the documents
// already stored and used by queries; removing it from settings drops it, without a restart.
func TestIndexesFollowSettings(t *testing.T) {
	p, cfgDir := startConfigured(t)

	var docs []string
	for i := range 50 {
		docs = append(docs, fmt.Sprintf(`{"n":%d}`, i))
	}
	if s := p.status("POST", "/rest/things", oldKey, "["+strings.Join(docs, ",")+"]"); s != 201 {
		t.Fatalf("bulk create: %d", s)
	}
	q := "/rest/things?q=" + url.QueryEscape(`{"n":{"$gte":45}}`) + "&sort=n"
	if plan := p.planOf(q, oldKey); !strings.HasPrefix(plan, "scan") || !strings.Contains(plan, "examined=50") {
		t.Fatalf("without an index the query must scan all 50 documents, got plan %q", plan)
	}

	testutil.ReplaceByRename(t, filepath.Join(cfgDir, "settings.json"), `{"collections":[{"name":"things","indexes":["n"]}]}`)
	testutil.EventuallyTrue(t, 10*time.Second, "the index on n used", func() bool {
		return strings.Contains(p.planOf(q, oldKey), "field=n examined=5")
	})

	testutil.ReplaceByRename(t, filepath.Join(cfgDir, "settings.json"), `{}`)
	testutil.EventuallyTrue(t, 10*time.Second, "the index dropped", func() bool {
		return strings.HasPrefix(p.planOf(q, oldKey), "scan")
	})
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0:\n%s", code, p.logs())
	}
}

func TestConsoleURL(t *testing.T) {
	cases := map[string]string{
		"[::]:8080":      "http://localhost:8080/console/",
		"0.0.0.0:8080":   "http://localhost:8080/console/",
		"127.0.0.1:9000": "http://127.0.0.1:9000/console/",
		"[::1]:9000":     "http://[::1]:9000/console/",
	}
	for in, want := range cases {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleURL(addr); got != want {
			t.Errorf("consoleURL(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestGCPercentDefaultsUnlessGOGCIsSet(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	tuneGC(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("without GOGC the GC percent is %d, want %d", got, defaultGCPercent)
	}
	tuneGC(func(k string) (string, bool) { return "150", k == "GOGC" })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the GC percent was changed to %d", got)
	}
}

// metric reads one unlabelled series from /metrics.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	res, err := http.Get(p.addr + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				p.t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	p.t.Fatalf("/metrics has no %s", name)
	return 0
}

// The group commit is visible in /metrics: sequential writes commit one by one.
func TestStoreMetrics(t *testing.T) {
	p, _ := startConfigured(t)
	commits, writes := p.metric("restkube_store_commits_total"), p.metric("restkube_store_writes_total")
	for i := range 3 {
		if s := p.status("POST", "/rest/things", oldKey, fmt.Sprintf(`{"n":%d}`, i)); s != 201 {
			t.Fatalf("create: %d", s)
		}
	}
	if s := p.status("POST", "/rest/things", oldKey, `[{"n":10},{"n":11}]`); s != 201 {
		t.Fatalf("bulk create: %d", s)
	}
	if d := p.metric("restkube_store_commits_total") - commits; d != 4 {
		t.Errorf("4 sequential writes made %v commits", d)
	}
	if d := p.metric("restkube_store_writes_total") - writes; d != 4 {
		t.Errorf("4 sequential writes counted as %v", d)
	}
}

// latest gives its consumer the newest value only: what was set while it was busy is skipped.
func TestLatestKeepsTheNewest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLatest[int]()
	got := make(chan int)
	release := make(chan struct{})
	go func() {
		for v := range l.next(ctx) {
			got <- v
			<-release
		}
	}()
	l.set(1)
	if v := <-got; v != 1 {
		t.Fatalf("first value %d, want 1", v)
	}
	for i := 2; i <= 5; i++ { // the consumer is busy with 1 meanwhile
		l.set(i)
	}
	close(release)
	if v := <-got; v != 5 {
		t.Fatalf("after a busy spell the consumer got %d, want only the newest, 5", v)
	}
	select {
	case v := <-got:
		t.Fatalf("an older value %d came after the newest", v)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestSIGTERMEndsRealtimeStreams: an open /realtime stream neither keeps the process from
// stopping nor makes it wait the drain: SIGTERM ends the stream at once and the exit is clean.
// The stream also hears a write, and the process logs no key from its query string.
func TestSIGTERMEndsRealtimeStreams(t *testing.T) {
	cfgDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "settings.json"), `{"realtime":{"enabled":true}}`)
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey)
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), "signing-0123456789")
	p := start(t, "--data-dir="+t.TempDir(), "--config-dir="+cfgDir, "--log-level=debug")
	res, err := http.Get(p.addr + "/realtime?apikey=" + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /realtime: %d", res.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if s := p.status("POST", "/rest/things", oldKey, `{"n":1}`); s != 201 {
		t.Fatalf("create: %d", s)
	}
	sawPost := false
	timeout := time.After(10 * time.Second)
	for !sawPost {
		select {
		case l := <-lines:
			sawPost = l == "event: post"
		case <-timeout:
			t.Fatal("no post event on the stream")
		}
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ended := false
	for !ended {
		select {
		case _, ok := <-lines:
			ended = !ok
		case <-time.After(5 * time.Second):
			t.Fatal("the stream was still open 5s after SIGTERM")
		}
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, p.logs())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %s with a stream open (the drain is 10s)", d)
	}
	if strings.Contains(p.logs(), oldKey) {
		t.Errorf("the log holds the API key from the query string:\n%s", p.logs())
	}
}
