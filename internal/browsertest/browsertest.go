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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/restkube/restkube/internal/testutil"
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
		if err := testutil.AptInstall("chromium", "fonts-liberation"); err != nil {
			ensureOnce.err = fmt.Errorf("%s is missing: %w", ChromiumPath, err)
		}
	})
	return ensureOnce.err
}

// New starts headless Chromium for t (Ensure first) and returns its browser context; the
// browser ends with the test. extra options come after the defaults (a window size, say).
func New(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
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
		chromedp.Flag("disable-features", "Translate,MediaRouter,DialMediaRouteProvider,OptimizationHints"),
	)
	opts = append(opts, extra...)
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

	cancel   context.CancelFunc
	mu       sync.Mutex
	problems []string
}

// NewTab opens a tab in browser (from New).
func NewTab(t testing.TB, browser context.Context) *Tab {
	t.Helper()
	return newTab(t, browser, chromedp.WithNewBrowserContext())
}

// Sibling opens another tab in tb's browser context: it shares tb's cookies and storage, as a
// second tab of the same person's browser does.
func (tb *Tab) Sibling(t testing.TB) *Tab {
	t.Helper()
	return newTab(t, tb.Ctx)
}

func newTab(t testing.TB, parent context.Context, opts ...chromedp.ContextOption) *Tab {
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	tb := &Tab{T: t, Ctx: ctx, cancel: cancel}
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

// Close closes the tab; the test's end closes it too.
func (tb *Tab) Close() { tb.cancel() }

// Problems returns the console errors and uncaught exceptions so far.
func (tb *Tab) Problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

// Console is the console errors and uncaught exceptions so far as text to end a failure
// message with, or "" when there were none.
func (tb *Tab) Console() string {
	if p := tb.Problems(); len(p) > 0 {
		return "\nconsole:\n  " + strings.Join(p, "\n  ")
	}
	return ""
}

// Open navigates the tab to url.
func (tb *Tab) Open(url string) {
	tb.T.Helper()
	if err := chromedp.Do(tb.Ctx, chromedp.Navigate(url)); err != nil {
		tb.T.Fatalf("open %s: %v%s", url, err, tb.Console())
	}
}

// Eval evaluates a JavaScript expression (a promise is awaited) and returns its string value.
func (tb *Tab) Eval(expr string) string {
	tb.T.Helper()
	v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("evaluate %s: %v%s", expr, err, tb.Console())
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
	tb.T.Fatalf("waiting for %s: timed out (last error %v)%s", expr, lastErr, tb.Console())
}
