package httpapi

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/restkube/restkube/dbserver/auth/oidctest"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/internal/browsertest"
)

// consoleTab drives the console in one tab (a browser context of its own: its own session
// storage and cookies, so its own login at the identity provider).
type consoleTab struct {
	t     *testing.T
	tab   *browsertest.Tab
	shots string
}

func (c *consoleTab) click(sel string) {
	c.t.Helper()
	if err := chromedp.Do(c.tab.Ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		c.t.Fatalf("click %s: %v\nconsole: %v", sel, err, c.tab.Problems())
	}
}

func (c *consoleTab) view(name string) {
	c.t.Helper()
	c.tab.WaitJS(fmt.Sprintf(`document.getElementById("view") && document.getElementById("view").dataset.view === %q`, name), 10*time.Second)
}

func (c *consoleTab) waitMessage(want string) {
	c.t.Helper()
	c.tab.WaitJS(fmt.Sprintf(`!document.getElementById("message").hidden && document.getElementById("message").textContent.includes(%q)`, want), 10*time.Second)
}

func (c *consoleTab) message() string {
	return c.tab.Eval(`document.getElementById("message").hidden ? "" : document.getElementById("message").textContent`)
}

func (c *consoleTab) shot(name string) {
	c.t.Helper()
	c.tab.Eval(`String(document.activeElement && document.activeElement.blur())`)
	if err := chromedp.Do(c.tab.Ctx, chromedp.Sleep(150*time.Millisecond)); err != nil {
		c.t.Fatalf("settle: %v", err)
	}
	png, err := chromedp.Run(c.tab.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(c.shots, "console-"+name+".png"), png, 0o644); err != nil {
		c.t.Fatalf("saving screenshot: %v", err)
	}
}

// login signs in at the console's "Sign in as a user": the identity provider's login page,
// the user picked there, and back to the console.
func (c *consoleTab) login(email string) {
	c.t.Helper()
	c.tab.WaitJS(`document.body && document.body.dataset.ready === "yes" && !document.getElementById("signin-external").disabled`, 20*time.Second)
	c.click("#signin-external")
	c.tab.WaitJS(fmt.Sprintf(`document.querySelector('button[data-email=%q]') !== null`, email), 10*time.Second)
	c.click(fmt.Sprintf(`button[data-email=%q]`, email))
	c.tab.WaitJS(`location.pathname === "/console/" && document.body && document.body.dataset.ready === "yes"`, 20*time.Second)
}

// TestConsoleExternalUserInChromium signs in to the console as external users through the
// local OIDC provider (the code flow, exchanged by the dbserver): a user without a console
// role is refused with a clear message and the token revoked; a user with one sees only the
// collections and changes the roles allow, in the lists and in the live feed, and signing
// out revokes the token.
func TestConsoleExternalUserInChromium(t *testing.T) {
	e := newConsoleEnv(t)
	e.update(func(c *settings.Config) {
		c.Settings.Realtime.Enabled = true
		c.Settings.Auth.TokenTTL = "8s" // the console refreshes its token after four fifths of this
	})
	e.seed("users", "api",
		`{"email":"ann@example.com","displayname":"Ann Lee","roles":["admin"],"active":true}`,
		`{"email":"ben@example.com","displayname":"Ben Ode","roles":["external"],"active":true}`)
	e.seed("notes", "api", `{"title":"not for admins"}`)
	e.prov.AddUser(oidctest.User{Sub: "auth0|ann", Email: "ann@example.com", Name: "Ann Lee"})
	e.prov.AddUser(oidctest.User{Sub: "auth0|ben", Email: "ben@example.com", Name: "Ben Ode"})
	browser := browsertest.New(t)
	shots := consoleArtifacts(t)
	problems := func(tab *browsertest.Tab) {
		for _, p := range tab.Problems() {
			// Refused calls (the user's 403s, the revoked token's 401) log failed fetches.
			if !strings.Contains(p, "403") && !strings.Contains(p, "401") {
				t.Errorf("console: %s", p)
			}
		}
	}

	t.Run("a user without a console role is refused, and the token revoked", func(t *testing.T) {
		c := &consoleTab{t: t, tab: browsertest.NewTab(t, browser), shots: shots}
		if err := chromedp.Do(c.tab.Ctx, chromedp.EmulateViewport(1280, 760)); err != nil {
			t.Fatal(err)
		}
		c.tab.Open(e.url + "/console/")
		c.tab.WaitJS(`document.body && document.body.dataset.ready === "yes"`, 20*time.Second)
		if note := c.tab.Eval(`document.getElementById("external-note").textContent`); !strings.Contains(note, "role admin") {
			t.Errorf("the sign-in page says %q; it should name the console's role", note)
		}
		checkAccessible(t, c.tab, "sign-in with a user login")
		c.login("ben@example.com")
		c.waitMessage("the console is for the role admin")
		if m := c.message(); !strings.Contains(m, "ben@example.com") || !strings.Contains(m, "your roles are external") {
			t.Errorf("refusal %q does not say who and which roles", m)
		}
		if tok := c.tab.Eval(`sessionStorage.getItem("restkube.console.token") || ""`); tok != "" {
			t.Error("the refused user's token was kept")
		}
		if !strings.Contains(e.logs.String(), "external user logged out") {
			t.Error("the refused user's token was not revoked (no logout at the dbserver)")
		}
		if c.tab.Eval(`String(document.getElementById("signin").hidden)`) != "false" {
			t.Error("the refused user is not back at the sign-in page")
		}
		problems(c.tab)
	})

	t.Run("a user with a console role sees only what the roles allow", func(t *testing.T) {
		c := &consoleTab{t: t, tab: browsertest.NewTab(t, browser), shots: shots}
		if err := chromedp.Do(c.tab.Ctx, chromedp.EmulateViewport(1280, 760)); err != nil {
			t.Fatal(err)
		}
		c.tab.Open(e.url + "/console/#/feed")
		c.login("ann@example.com")
		// Back where the login started, signed in, and the code is gone from the address bar.
		c.view("feed")
		if u := c.tab.Eval(`location.href`); strings.Contains(u, "code=") || strings.Contains(u, "state=") {
			t.Errorf("the address bar keeps the login's answer: %s", u)
		}
		if who := c.tab.Eval(`document.getElementById("who").textContent`); who != "ann@example.com (admin)" {
			t.Errorf("header says %q", who)
		}
		if c.tab.Eval(`String(document.getElementById("nav-backups").hidden)`) != "true" {
			t.Error("a user is offered the backups (full-access key only)")
		}
		token := c.tab.Eval(`sessionStorage.getItem("restkube.console.token")`)
		if r := e.do("GET", "/auth/userinfo", bearer(token), ""); r.status != 200 || !strings.Contains(r.body, "ann@example.com") {
			t.Fatalf("the console's token is not ann's: %d %s", r.status, r.body)
		}

		// The feed hears only collections ann may read: a note (no rule for admin) never
		// shows, an item does.
		c.tab.WaitJS(`document.getElementById("feed-status").classList.contains("live")`, 10*time.Second)
		if r := e.do("POST", "/rest/notes", key(fullKey), `{"title":"secret note"}`); r.status != 201 {
			t.Fatalf("note: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/rest/items", key(fullKey), `{"name":"date"}`); r.status != 201 {
			t.Fatalf("item: %d %s", r.status, r.body)
		}
		c.tab.WaitJS(`[...document.querySelectorAll('#feed-list li[data-collection="items"]')].some(li => li.textContent.includes("date"))`, 10*time.Second)
		if got := c.tab.Eval(`document.getElementById("feed-list").textContent`); strings.Contains(got, "secret note") {
			t.Errorf("ann's feed shows a note: %s", got)
		}
		checkAccessible(t, c.tab, "feed as a user")

		// Before the token expires, the console trades it for a new one (the old is revoked).
		c.tab.WaitJS(fmt.Sprintf(`(sessionStorage.getItem("restkube.console.token") || %q) !== %q`, token, token), 15*time.Second)
		if r := e.do("GET", "/rest/items", bearer(token), ""); r.status != 401 {
			t.Errorf("the token before the refresh still works: %d", r.status)
		}
		token = c.tab.Eval(`sessionStorage.getItem("restkube.console.token")`)
		if r := e.do("GET", "/rest/items", bearer(token), ""); r.status != 200 {
			t.Errorf("the refreshed token: %d %s", r.status, r.body)
		}
		// The server ends the stream of the revoked token at its next check; the feed
		// reconnects with the new one and misses nothing.
		if r := e.do("POST", "/rest/items", key(fullKey), `{"name":"fig"}`); r.status != 201 {
			t.Fatalf("item: %d %s", r.status, r.body)
		}
		c.tab.WaitJS(`[...document.querySelectorAll('#feed-list li[data-collection="items"]')].some(li => li.textContent.includes("fig"))`, 20*time.Second)
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(e.logs.String(), "realtime stream ended") {
			if time.Now().After(deadline) {
				t.Fatal("the revoked token's stream was not ended")
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
		c.tab.WaitJS(`document.getElementById("feed-status").classList.contains("live")`, 15*time.Second)
		if r := e.do("POST", "/rest/items", key(fullKey), `{"name":"grape"}`); r.status != 201 {
			t.Fatalf("item: %d %s", r.status, r.body)
		}
		c.tab.WaitJS(`[...document.querySelectorAll('#feed-list li[data-collection="items"]')].some(li => li.textContent.includes("grape"))`, 10*time.Second)

		c.click("#nav-collections")
		c.view("collections")
		c.tab.WaitJS(`document.querySelector('[data-count="items"]') && document.querySelector('[data-count="items"]').textContent === "6"`, 10*time.Second)
		if names := c.tab.Eval(`[...document.querySelectorAll("#view tbody tr td:first-child")].map(td => td.textContent).join(",")`); names != "items" {
			t.Errorf("ann sees the collections %q, want only items", names)
		}
		c.shot("10-user")
		c.tab.Eval(`String(location.hash = "#/c/notes")`)
		c.waitMessage("Error 403")
		c.click("#nav-users")
		c.view("users")
		if got := c.tab.Eval(`document.getElementById("users-unavailable").textContent`); !strings.Contains(got, "may not read the users") {
			t.Errorf("the users view for a user without the right says %q", got)
		}

		// Ann's own create is hers.
		c.tab.Eval(`String(location.hash = "#/c/items/new")`)
		c.view("editor")
		c.tab.Eval(`String(document.getElementById("doc-json").value = '{"name": "elderberry"}')`)
		c.click("#save")
		c.waitMessage("Created document")
		r := e.do("GET", `/rest/items?q={"name":"elderberry"}&metafields=true`, key(fullKey), "")
		var docs []map[string]any
		if err := json.Unmarshal([]byte(r.body), &docs); err != nil || len(docs) != 1 || docs[0]["_createdby"] != "ann@example.com" {
			t.Errorf("ann's document: %s", r.body)
		}

		// Signing out revokes the token at the dbserver.
		c.click("#signout")
		c.tab.WaitJS(`!document.getElementById("signin").hidden`, 10*time.Second)
		deadline = time.Now().Add(10 * time.Second)
		for e.do("GET", "/rest/items", bearer(token), "").status != 401 {
			if time.Now().After(deadline) {
				t.Fatal("the token still works after signing out")
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
		if k := c.tab.Eval(`(sessionStorage.getItem("restkube.console.token") || "") + (sessionStorage.getItem("restkube.console.user") || "")`); k != "" {
			t.Errorf("kept after sign-out: %s", k)
		}
		if strings.Contains(e.logs.String(), token) {
			t.Error("the server's logs hold the user's token")
		}
		problems(c.tab)
	})
	if strings.Contains(e.logs.String(), consoleClientSecret) {
		t.Error("the logs hold the client secret")
	}
}
