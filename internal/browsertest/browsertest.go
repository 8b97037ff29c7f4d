// Package browsertest starts a real headless Chromium (Debian's chromium) for browser tests,
// driven with chromedp, with a fresh profile and the flags that keep it from reaching anything
// but the test's own loopback servers. Ensure installs Chromium when it is missing (as root,
// with apt-get); New starts one browser per test; NewTab opens a tab in a browser context of
// its own and collects its console errors and uncaught exceptions.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

var ensureOnce struct {
	sync.Once
	err error
}

// Ensure installs Debian's chromium (and a font, so pages render text) when ChromiumPath is
// missing; it needs root. It runs once per test binary.
func Ensure() error {
	ensureOnce.Do(func() {
		if _, err := os.Stat(ChromiumPath); err == nil {
			return
		}
		if os.Geteuid() != 0 {
			ensureOnce.err = fmt.Errorf("%s is missing: install Debian's chromium (as root: apt-get install chromium fonts-liberation)", ChromiumPath)
			return
		}
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-liberation"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				ensureOnce.err = fmt.Errorf("apt-get %s: %w\n%s", args[0], err, out)
				return
			}
		}
	})
	return ensureOnce.err
}

// New starts headless Chromium for t (Ensure first) and returns its browser context; the
// browser ends with the test.
func New(t testing.TB) context.Context {
	t.Helper()
	if err := Ensure(); err != nil {
		t.Fatalf("browser test setup: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// Tab is one tab in a browser context of its own (cookies and storage apart from other tabs).
type Tab struct {
	T   testing.TB
	Ctx context.Context

	mu       sync.Mutex
	problems []string
}

// NewTab opens a tab in browser (from New).
func NewTab(t testing.TB, browser context.Context) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &Tab{T: t, Ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				tb.mu.Lock()
				tb.problems = append(tb.problems, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// Problems returns the console errors and uncaught exceptions so far.
func (tb *Tab) Problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

func (tb *Tab) console() string {
	if p := tb.Problems(); len(p) > 0 {
		return "\nconsole:\n  " + strings.Join(p, "\n  ")
	}
	return ""
}

// Open navigates the tab to url.
func (tb *Tab) Open(url string) {
	tb.T.Helper()
	if err := chromedp.Do(tb.Ctx, chromedp.Navigate(url)); err != nil {
		tb.T.Fatalf("open %s: %v%s", url, err, tb.console())
	}
}

// Eval evaluates a JavaScript expression (a promise is awaited) and returns its string value.
func (tb *Tab) Eval(expr string) string {
	tb.T.Helper()
	v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("evaluate %s: %v%s", expr, err, tb.console())
	}
	return v
}

// WaitJS polls expr until it is true, for at most timeout.
func (tb *Tab) WaitJS(expr string, timeout time.Duration) {
	tb.T.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	tb.T.Fatalf("waiting for %s: timed out (last error %v)%s", expr, lastErr, tb.console())
}
