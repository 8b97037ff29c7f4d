//go:build browser

// Package todo_test drives the To-Do example in a real headless Chromium: a real dbserver
// binary, the local OIDC provider standing in for Auth0 and a static server for the page, each
// on its own 127.0.0.1 port (its own origin, as in production). Run it with `make test-browser`;
// it installs Chromium (Debian's package, as root) and the example's npm packages itself.
package todo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/internal/browsertest"
	"github.com/restkube/restkube/internal/testutil"
)

const (
	clientID     = "todo-spa-client"
	clientSecret = "todo-spa-client-secret-0123456789"
	apiKey       = "todo-full-access-key-0123456789abcdef"
	signingKey   = "todo-signing-key-0123456789abcdefghij"
	// tokenTTL is short so that the app refreshes its token while the test runs.
	tokenTTL   = 12 * time.Second
	sessionKey = "restkube.todo.session"
)

// dbserverBin is the dbserver built once by TestMain.
var dbserverBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "browser test setup:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "todo-dbserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	dbserverBin = filepath.Join(dir, "dbserver")
	build := exec.Command("go", "build", "-o", dbserverBin, "github.com/restkube/restkube/dbserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building dbserver: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// setup installs what is missing of Chromium, Node.js and npm (Debian's packages, as root),
// then builds the example (npm ci, npm run build) as a new user of the example would.
func setup() error {
	if err := browsertest.Ensure(); err != nil {
		return err
	}
	if _, err := exec.LookPath("npm"); err != nil {
		if err := testutil.AptInstall("nodejs", "npm"); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"ci"}, {"run", "build"}} {
		cmd := exec.Command("npm", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm %s: %v\n%s", args[0], err, out)
		}
	}
	return nil
}

// TestTodoAppInChromium is the tutorial's To-Do app used by two people.
func TestTodoAppInChromium(t *testing.T) {
	env := newEnv(t)
	browser := browsertest.New(t, chromedp.WindowSize(900, 720))

	ann := env.tab(t, browser, "ann")
	ben := env.tab(t, browser, "ben")

	// Ann signs in by picking her account on the provider's login form.
	ann.open(env.site.URL + "/")
	ann.waitState("signed-out")
	ann.screenshot("signed-out")
	ann.click("#login")
	ann.waitJS(`document.querySelector('button[value="auth0|ann"]') !== null`, "the provider's login form")
	ann.screenshot("login-form")
	ann.click(`button[value="auth0|ann"]`)
	ann.waitState("signed-in")
	if name := ann.Eval(`document.getElementById('user-name').textContent`); name != "Ann Example" {
		t.Errorf("Ann's name from /auth/userinfo: %q", name)
	}
	if pic := ann.Eval(`document.getElementById('user-picture').src`); !strings.HasPrefix(pic, "data:image/svg+xml") {
		t.Errorf("Ann's picture from /auth/userinfo: %.40q", pic)
	}
	for _, title := range []string{"Buy oat milk", "Write the quarterly report", "Call the plumber"} {
		ann.addTask(title)
	}

	// Ben signs in by typing his email and name.
	ben.open(env.site.URL + "/")
	ben.waitState("signed-out")
	ben.click("#login")
	ben.waitJS(`document.getElementById('email') !== null`, "the provider's login form")
	ben.typeInto("#email", "ben@example.com")
	ben.typeInto("#name", "Ben Typed")
	ben.click("#typed button")
	ben.waitState("signed-in")
	for _, title := range []string{"Ben's secret plan", "Water the plants"} {
		ben.addTask(title)
	}

	// With realtime, a task Ben adds in a second tab appears in the first without a reload.
	if env.realtime {
		ben2 := &tab{Tab: ben.Sibling(t), t: t, name: "ben-tab2"}
		ben.waitJS(`!document.getElementById('live').hidden`, "the realtime stream")
		ben2.open(env.site.URL + "/")
		ben2.waitState("signed-in")
		ben2.waitTasks(2) // the list loads after sign-in; addTask counts what is shown
		ben2.addTask("Added in another tab")
		ben.waitTasks(3)
		ben2.Close()
		ben.click(ben.taskSelector("Added in another tab") + " .delete")
		ben.waitTasks(2)
	} else {
		t.Log("realtime not checked: this dbserver has no /realtime endpoint")
	}

	// Neither sees the other's tasks: in the page, and asked directly with their tokens.
	ann.open(env.site.URL + "/") // a fresh load, not what the page remembers
	ann.waitState("signed-in")
	ann.waitTasks(3)
	if got := ann.titles(); strings.Join(got, "|") != "Buy oat milk|Write the quarterly report|Call the plumber" {
		t.Errorf("Ann sees %q", got)
	}
	if got := ben.titles(); strings.Join(got, "|") != "Ben's secret plan|Water the plants" {
		t.Errorf("Ben sees %q", got)
	}
	env.expectTitles(t, ann.token(), "Buy oat milk", "Write the quarterly report", "Call the plumber")
	env.expectTitles(t, ben.token(), "Ben's secret plan", "Water the plants")

	// Ann completes one task and deletes another.
	ann.click(ann.taskSelector("Buy oat milk") + " input[type=checkbox]")
	ann.waitJS(`document.querySelectorAll('#tasks .task.done').length === 1`, "a completed task")
	ann.click(ann.taskSelector("Call the plumber") + " .delete")
	ann.waitTasks(2)
	docs := env.tasks(t, ann.token())
	if len(docs) != 2 || docs[0]["title"] != "Buy oat milk" || docs[0]["done"] != true || docs[1]["done"] != false {
		t.Errorf("Ann's tasks in the database: %v", docs)
	}

	// A reload keeps Ann signed in: the SDK's silent authentication (prompt=none in a hidden
	// iframe) finds her session at the provider, and the page keeps its RestKube token.
	authorizeHits := env.prov.Hits(oidctest.AuthorizePath)
	ann.reload()
	ann.waitState("signed-in")
	ann.waitTasks(2)
	if env.prov.Hits(oidctest.AuthorizePath) == authorizeHits {
		t.Errorf("the reload did not authenticate silently at the provider")
	}
	if got := ann.Eval(`document.querySelector('#tasks .task.done .title').textContent`); got != "Buy oat milk" {
		t.Errorf("after the reload the completed task is %q", got)
	}

	// The page refreshes its token before it expires; the old one is revoked by the refresh.
	old := ann.token()
	ann.waitJS(fmt.Sprintf(`JSON.parse(sessionStorage.getItem(%q)).token !== %q`, sessionKey, old), "a token refresh")
	if status := env.status(t, "GET", "/rest/tasks", old); status != http.StatusUnauthorized {
		t.Errorf("the token before the refresh: %d, want 401", status)
	}
	env.expectTitles(t, ann.token(), "Buy oat milk", "Write the quarterly report")
	ann.addTask("Renew the passport") // the page works on with the new token
	ann.screenshot("tasks")
	ben.screenshot("tasks")

	// Ann logs out: the RestKube token is revoked and her provider session ends.
	last := ann.token()
	sessions, logouts := env.prov.Sessions(), env.prov.Hits(oidctest.LogoutPath)
	ann.click("#logout")
	testutil.EventuallyTrue(t, 40*time.Second, "the provider's logout", func() bool { return env.prov.Hits(oidctest.LogoutPath) > logouts })
	ann.waitState("signed-out")
	if status := env.status(t, "GET", "/rest/tasks", last); status != http.StatusUnauthorized {
		t.Errorf("Ann's token after logout: %d, want 401", status)
	}
	if env.prov.Sessions() != sessions-1 {
		t.Errorf("provider sessions after logout: %d, want %d", env.prov.Sessions(), sessions-1)
	}
	ann.open(env.site.URL + "/")
	ann.waitState("signed-out")
	if stored := ann.Eval(fmt.Sprintf(`String(sessionStorage.getItem(%q))`, sessionKey)); stored != "null" {
		t.Errorf("a token stays in the page after logout: %.30s", stored)
	}
	// Ben is untouched.
	env.expectTitles(t, ben.token(), "Ben's secret plan", "Water the plants")

	ann.checkConsole()
	ben.checkConsole()
}

// env is the servers of one test: OIDC provider, dbserver and the page's static server.
type env struct {
	prov *oidctest.Provider
	site *httptest.Server
	db   string // the dbserver's base URL
	logs func() string
	// realtime is whether the dbserver serves /realtime; the page's config turns it on then.
	realtime bool
}

func newEnv(t *testing.T) *env {
	e := &env{prov: oidctest.New(t, clientID, clientSecret)}
	e.prov.AddUser(oidctest.User{Sub: "auth0|ann", Email: "ann@example.com", Name: "Ann Example"})

	// The static server first: its origin goes into the provider's and the dbserver's settings.
	var cfg []byte
	dist := http.FileServer(http.Dir("dist"))
	e.site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' https: data:; connect-src 'self' "+e.db+" "+strings.TrimSuffix(e.prov.Issuer, "/")+"; "+
			"frame-src "+strings.TrimSuffix(e.prov.Issuer, "/")+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/config.json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(cfg)
			return
		}
		dist.ServeHTTP(w, r)
	}))
	t.Cleanup(e.site.Close)
	app := e.site.URL + "/"
	e.prov.SetApp(oidctest.App{CallbackURLs: []string{app}, LogoutURLs: []string{app}, WebOrigins: []string{e.site.URL}})

	cfgDir, dataDir := t.TempDir(), t.TempDir()
	settings := map[string]any{
		"auth": map[string]any{
			"enabled":  true,
			"tokenTTL": tokenTTL.String(),
			"auth0":    map[string]any{"clientID": clientID, "issuer": e.prov.Issuer},
		},
		"cors":     map[string]any{"allowedOrigins": []string{e.site.URL}},
		"realtime": map[string]any{"enabled": true},
		"collections": []any{map[string]any{
			"name": "tasks", "private": true, "access": map[string]any{"external": map[string]bool{"read": true, "write": true}},
		}},
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"settings.json": string(raw), "api-key": apiKey, "signing-key": signingKey, "auth0-client-secret": clientSecret,
	} {
		testutil.WriteFile(t, filepath.Join(cfgDir, name), content)
	}
	e.db, e.logs = startDBServer(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)
	e.realtime = hasRealtime(t, e.db)
	if !e.realtime {
		t.Fatal("the dbserver answers 404 at /realtime although settings.json enables realtime")
	}

	// The provider's domain setting is its URL: auth0-spa-js takes an http(s):// domain as it is.
	cfg, err = json.Marshal(map[string]any{
		"auth0":    map[string]string{"domain": strings.TrimSuffix(e.prov.Issuer, "/"), "clientId": clientID},
		"database": e.db,
		"realtime": e.realtime,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startDBServer runs the dbserver binary on a free loopback port until the test ends.
func startDBServer(t *testing.T, args ...string) (string, func() string) {
	cmd := exec.Command(dbserverBin, append([]string{"serve", "--listen=127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbserver: %v", err)
	}
	var logs testutil.LockedBuffer
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = logs.Write(sc.Bytes())
			_, _ = logs.Write([]byte{'\n'})
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	read := logs.String
	select {
	case a := <-addr:
		return "http://" + a, read
	case <-time.After(30 * time.Second):
		t.Fatalf("dbserver did not listen within 30s:\n%s", read())
		return "", nil
	}
}

// hasRealtime asks the dbserver whether it serves the realtime stream: 404 means it does not.
func hasRealtime(t *testing.T, base string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/realtime?apikey="+apiKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("probing /realtime: %v", err)
	}
	res.Body.Close() // a stream stays open: do not read it
	return res.StatusCode != http.StatusNotFound
}

// status is the HTTP status of a direct call to the dbserver with token.
func (e *env) status(t *testing.T, method, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(method, e.db+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// tasks lists the caller's tasks directly, in creation order.
func (e *env) tasks(t *testing.T, token string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", e.db+"/rest/tasks?sort=_id", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var docs []map[string]any
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&docs) != nil {
		t.Fatalf("listing tasks: %d\n%s", res.StatusCode, e.logs())
	}
	return docs
}

func (e *env) expectTitles(t *testing.T, token string, want ...string) {
	t.Helper()
	var got []string
	for _, d := range e.tasks(t, token) {
		got = append(got, fmt.Sprint(d["title"]))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tasks in the database: %q, want %q", got, want)
	}
}

// tab is one person's tab in a browser context of its own (cookies and storage apart).
type tab struct {
	*browsertest.Tab
	t    *testing.T
	name string
}

func (e *env) tab(t *testing.T, browser context.Context, name string) *tab {
	return &tab{Tab: browsertest.NewTab(t, browser), t: t, name: name}
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.Ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v%s", tb.name, what, err, tb.Console())
	}
}

func (tb *tab) open(url string) { tb.t.Helper(); tb.do("open "+url, chromedp.Navigate(url)) }
func (tb *tab) reload()         { tb.t.Helper(); tb.do("reload", chromedp.Reload()) }

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// waitJS polls expr until it is true. Errors while a navigation replaces the page are retried.
func (tb *tab) waitJS(expr, what string) {
	tb.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return
		}
		lastErr = err
		if tb.Ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	state, _ := chromedp.Run(tb.Ctx, chromedp.Evaluate[string](`location.href + " state=" + (document.body && document.body.dataset.state) + " error=" + (document.getElementById('error') ? document.getElementById('error').textContent : "")`))
	tb.t.Fatalf("%s: waiting for %s: timed out (last error %v) at %s%s", tb.name, what, lastErr, state, tb.Console())
}

func (tb *tab) waitState(state string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf(`document.body && document.body.dataset.state === %q`, state), "state "+state)
}

func (tb *tab) waitTasks(n int) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf(`document.querySelectorAll('#tasks .task').length === %d`, n), fmt.Sprintf("%d tasks", n))
}

func (tb *tab) addTask(title string) {
	tb.t.Helper()
	before := len(tb.titles())
	tb.typeInto("#new-title", title+kb.Enter)
	tb.waitTasks(before + 1)
	if got := tb.titles(); got[len(got)-1] != title {
		tb.t.Fatalf("%s: added %q, the list ends with %q", tb.name, title, got[len(got)-1])
	}
}

func (tb *tab) titles() []string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#tasks .task .title')].map(e => e.textContent)`))
	if err != nil {
		tb.t.Fatalf("%s: reading the list: %v", tb.name, err)
	}
	return v
}

// taskSelector is a CSS selector of the list item of the task titled title.
func (tb *tab) taskSelector(title string) string {
	tb.t.Helper()
	id := tb.Eval(fmt.Sprintf(`[...document.querySelectorAll('#tasks .task')].find(li => li.querySelector('.title').textContent === %q).dataset.id`, title))
	return fmt.Sprintf(`#tasks .task[data-id=%q]`, id)
}

// token is the RestKube token the page holds.
func (tb *tab) token() string {
	tb.t.Helper()
	return tb.Eval(fmt.Sprintf(`JSON.parse(sessionStorage.getItem(%q)).token`, sessionKey))
}

// screenshot saves the visible page as <artifacts>/todo-<name>-<step>.png: under $ARTIFACTS
// when set, else test-artifacts/ at the repository root (git-ignored).
func (tb *tab) screenshot(step string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(dir, "todo-"+tb.name+"-"+step+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	tb.t.Logf("screenshot: %s", abs)
}

// checkConsole fails the test on any error the page logged: a script error, a failed
// request or a Content-Security-Policy violation.
func (tb *tab) checkConsole() {
	tb.t.Helper()
	if c := tb.Console(); c != "" {
		tb.t.Errorf("%s: the page logged errors:%s", tb.name, c)
	}
}
