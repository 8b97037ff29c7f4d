package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/internal/browsertest"
	"github.com/restkube/restkube/internal/s3test"
)

// consoleArtifacts is where TestConsoleInChromium saves its screenshots (console-*.png): $ARTIFACTS
// when set, else test-artifacts/ at the repository root (git-ignored), as the To-Do app's test.
func consoleArtifacts(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

// TestConsoleInChromium drives the console in headless Chromium as a person would: a refused
// key, sign-in, the collections, a new collection's first document, a query with paging and
// the JSON view, an edit that loses to another client's write (412 shown, nothing saved),
// the edit again, a single and a bulk delete, and the users. Every view is screenshotted and
// checked for labels and keyboard reach.
func TestConsoleInChromium(t *testing.T) {
	e := newConsoleEnv(t)
	e.seed("users", "api",
		`{"email":"ann@example.com","displayname":"Ann Lee","roles":["external","editor"],"active":true}`,
		`{"email":"ben@example.com","displayname":"Ben Ode","roles":["external"],"active":false}`)
	shots := consoleArtifacts(t)

	browser := browsertest.New(t)
	tab := browsertest.NewTab(t, browser)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab.Ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nconsole: %v", what, err, tab.Problems())
		}
	}
	shot := func(name string) {
		t.Helper()
		tab.Eval(`String(document.activeElement && document.activeElement.blur())`)
		run("settle", chromedp.Sleep(150*time.Millisecond))
		png, err := chromedp.Run(tab.Ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatalf("saving screenshot: %v", err)
		}
	}
	view := func(name string) {
		t.Helper()
		tab.WaitJS(fmt.Sprintf(`document.getElementById("view").dataset.view === %q`, name), 10*time.Second)
	}
	message := func() string {
		return tab.Eval(`document.getElementById("message").hidden ? "" : document.getElementById("message").textContent`)
	}
	waitMessage := func(want string) {
		t.Helper()
		tab.WaitJS(fmt.Sprintf(`!document.getElementById("message").hidden && document.getElementById("message").textContent.includes(%q)`, want), 10*time.Second)
	}
	click := func(sel string) { t.Helper(); run("click "+sel, chromedp.Click(chromedp.CSS(sel))) }
	setValue := func(sel, v string) {
		t.Helper()
		b, _ := json.Marshal(v)
		tab.Eval(fmt.Sprintf(`String(document.querySelector(%q).value = %s)`, sel, b))
	}
	stored := func(id string) map[string]any {
		t.Helper()
		r := e.do("GET", "/rest/notes/"+id+"?metafields=true", key(fullKey), "")
		if r.status != 200 {
			return nil
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(r.body), &d); err != nil {
			t.Fatalf("stored document: %v", err)
		}
		return d
	}

	run("viewport", chromedp.EmulateViewport(1280, 760))
	tab.Open(e.url + "/console/")
	tab.WaitJS(`document.body && document.body.dataset.ready === "yes"`, 20*time.Second)
	// The CSP lets the console's own script and stylesheet run: the header has its colour.
	if bg := tab.Eval(`getComputedStyle(document.querySelector("header")).backgroundColor`); bg != "rgb(21, 32, 56)" {
		t.Errorf("the stylesheet did not apply (header background %q)", bg)
	}
	checkAccessible(t, tab, "sign-in")
	shot("1-signin")

	t.Run("a wrong key is refused with the server's message", func(t *testing.T) {
		run("type a wrong key", chromedp.SendKeys(chromedp.CSS("#apikey"), "not-the-key"), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
		waitMessage("Sign-in failed")
		if m := message(); !strings.Contains(m, "invalid API key") {
			t.Errorf("message %q lacks the server's reason", m)
		}
		if k := tab.Eval(`sessionStorage.getItem("restkube.console.apikey") || ""`); k != "" {
			t.Errorf("a refused key was kept: %q", k)
		}
	})

	tab.Eval(`String(document.getElementById("apikey").value = "")`)
	run("sign in", chromedp.SendKeys(chromedp.CSS("#apikey"), fullKey), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
	view("collections")
	tab.WaitJS(`document.querySelector('[data-count="items"]').textContent === "3"`, 10*time.Second)
	t.Run("signed in: the key is in session storage, never in the URL", func(t *testing.T) {
		if k := tab.Eval(`sessionStorage.getItem("restkube.console.apikey")`); k != fullKey {
			t.Errorf("session storage holds %q", k)
		}
		if u := tab.Eval(`location.href`); strings.Contains(u, fullKey) {
			t.Errorf("the URL holds the key: %s", u)
		}
		names := tab.Eval(`[...document.querySelectorAll("#view tbody tr td:first-child")].map(td => td.textContent).join(",")`)
		for _, want := range []string{"items", "public", "users"} {
			if !strings.Contains(names, want) {
				t.Errorf("collections %q lack %s", names, want)
			}
		}
	})
	checkAccessible(t, tab, "collections")
	shot("2-collections")

	var first string
	t.Run("a new collection's first document", func(t *testing.T) {
		run("open notes", chromedp.SendKeys(chromedp.CSS("#open-name"), "notes"), chromedp.Click(chromedp.CSS(`#view form button[type=submit]`)))
		view("documents")
		if got := tab.Eval(`document.querySelector(".empty").textContent`); !strings.Contains(got, "no documents yet") {
			t.Errorf("empty collection says %q", got)
		}
		click("#new-doc")
		view("editor")
		checkAccessible(t, tab, "editor")
		setValue("#doc-json", `{"title": "first note", "n": 1}`)
		click("#save")
		view("documents")
		waitMessage("Created document")
		m := regexp.MustCompile(`Created document (\S+) in notes`).FindStringSubmatch(message())
		if m == nil {
			t.Fatalf("message %q names no id", message())
		}
		first = m[1]
		if d := stored(first); d == nil || d["title"] != "first note" || d["_createdby"] != "api" {
			t.Fatalf("stored %v", d)
		}
	})

	var bulk []string
	for i := 2; i <= 26; i++ {
		bulk = append(bulk, fmt.Sprintf(`{"title":"note %d","n":%d,"tags":["t%d"]}`, i, i, i%3))
	}
	if r := e.do("POST", "/rest/notes", key(fullKey), "["+strings.Join(bulk, ",")+"]"); r.status != 201 {
		t.Fatalf("bulk create: %d %s", r.status, r.body)
	}

	t.Run("query, sort, paging, totals and the JSON view", func(t *testing.T) {
		run("query", chromedp.Click(chromedp.CSS("#apply")))
		tab.WaitJS(`document.getElementById("totals").textContent === "Showing 1–20 of 26"`, 10*time.Second)
		setValue("#q", `{"n": {"$gte": 10}}`)
		setValue("#sort", "n")
		setValue("#dir", "-1")
		setValue("#max", "10")
		click("#apply")
		tab.WaitJS(`document.getElementById("totals").textContent === "Showing 1–10 of 17"`, 10*time.Second)
		if got := tab.Eval(`document.querySelector("#view tbody tr").textContent`); !strings.Contains(got, "note 26") {
			t.Errorf("first row %q, want note 26 (n descending)", got)
		}
		checkAccessible(t, tab, "documents")
		shot("3-documents")
		click("#next")
		tab.WaitJS(`document.getElementById("totals").textContent === "Showing 11–17 of 17"`, 10*time.Second)
		if tab.Eval(`String(document.getElementById("next").disabled)`) != "true" {
			t.Error("next page is enabled on the last page")
		}
		click("#mode-json")
		tab.WaitJS(`document.getElementById("json-view") !== null`, 10*time.Second)
		var docs []map[string]any
		if err := json.Unmarshal([]byte(tab.Eval(`document.getElementById("json-view").textContent`)), &docs); err != nil || len(docs) != 7 || docs[0]["n"] != 16.0 {
			t.Errorf("JSON view: %v, %d documents, want 7 from n=16", err, len(docs))
		}
		shot("4-json")
		click("#mode-table")
		tab.WaitJS(`document.querySelector('#mode-table[aria-pressed="true"]') !== null`, 10*time.Second)
		setValue("#q", `{"n": {"$bogus": 1}}`)
		click("#apply")
		waitMessage("Error 400")
		if m := message(); !strings.Contains(m, "$bogus") {
			t.Errorf("a bad query's message %q does not name the operator", m)
		}
		setValue("#q", "")
		setValue("#sort", "_id")
		setValue("#dir", "1")
		click("#apply")
		tab.WaitJS(`document.getElementById("totals").textContent === "Showing 1–10 of 26"`, 10*time.Second)
	})

	t.Run("an edit that loses to another client's write shows the conflict", func(t *testing.T) {
		click(fmt.Sprintf(`button[aria-label="Edit %s"]`, first))
		view("editor")
		tab.WaitJS(`document.getElementById("doc-json").value.includes("first note")`, 10*time.Second)
		if r := e.do("PUT", "/rest/notes/"+first, key(fullKey), `{"title":"changed by another"}`); r.status != 200 {
			t.Fatalf("the other client's write: %d %s", r.status, r.body)
		}
		setValue("#doc-json", `{"title": "my edit", "n": 1}`)
		click("#save")
		tab.WaitJS(`!document.getElementById("conflict").hidden && document.getElementById("conflict").textContent.includes("Conflict (412)")`, 10*time.Second)
		shot("5-conflict")
		if d := stored(first); d["title"] != "changed by another" || d["_version"] != 1.0 {
			t.Errorf("after the conflict the store holds %v; the other write must win", d)
		}
		click("#reload-latest")
		tab.WaitJS(`document.getElementById("doc-json").value.includes("changed by another")`, 10*time.Second)
		setValue("#doc-json", `{"title": "my edit"}`)
		click("#save")
		view("documents")
		waitMessage("version 2")
		d := stored(first)
		if _, has := d["n"]; d["title"] != "my edit" || has || d["_version"] != 2.0 {
			t.Errorf("after the edit the store holds %v; want title changed, n removed, version 2", d)
		}
	})

	t.Run("delete one, then the rest in bulk with progress", func(t *testing.T) {
		tab.WaitJS(fmt.Sprintf(`document.querySelector('button[aria-label="Delete %s"]') !== null`, first), 10*time.Second)
		click(fmt.Sprintf(`button[aria-label="Delete %s"]`, first))
		click(fmt.Sprintf(`button[aria-label="Confirm deleting %s"]`, first))
		waitMessage("Deleted " + first)
		if stored(first) != nil {
			t.Errorf("%s is still stored", first)
		}
		tab.WaitJS(`document.getElementById("totals").textContent === "Showing 1–10 of 25"`, 10*time.Second)
		click("#select-all")
		tab.WaitJS(`document.getElementById("delete-selected").textContent === "Delete selected (10)"`, 10*time.Second)
		click("#delete-selected")
		click("#delete-selected")
		waitMessage("Deleted 10 of 10")
		if got := tab.Eval(`document.getElementById("bulk-progress") ? String(document.getElementById("bulk-progress").value) : "gone"`); got != "gone" && got != "0" {
			t.Logf("progress after the list reloaded: %s", got)
		}
		r := e.do("GET", "/rest/notes?totals=true&max=1", key(fullKey), "")
		if !strings.Contains(r.body, `"total":15`) {
			t.Errorf("after the bulk delete: %s, want 15 left", r.body)
		}
	})

	t.Run("users with roles and active", func(t *testing.T) {
		click("#nav-users")
		view("users")
		rows := tab.Eval(`[...document.querySelectorAll("#view tbody tr")].map(tr => tr.textContent).join("|")`)
		if !strings.Contains(rows, "ann@example.com") || !strings.Contains(rows, "editor") || !strings.Contains(rows, "inactive") {
			t.Errorf("users %q lack ann, her role editor, or ben inactive", rows)
		}
		checkAccessible(t, tab, "users")
		shot("6-users")
		click(`button[aria-label="Activate ben@example.com"]`)
		waitMessage("Activated ben@example.com")
		r := e.do("GET", "/rest/users/{users.1}?metafields=true", key(fullKey), "")
		if !strings.Contains(r.body, `"active":true`) {
			t.Errorf("ben after activation: %s", r.body)
		}
	})

	t.Run("media: upload with progress, a thumbnail, delete", func(t *testing.T) {
		click("#nav-media")
		view("media")
		checkAccessible(t, tab, "media")
		tab.Eval(fmt.Sprintf(`(() => {
			const png = Uint8Array.from(atob(%q), c => c.charCodeAt(0));
			const dt = new DataTransfer();
			dt.items.add(new File([png], "photo.png", {type: "image/png"}));
			dt.items.add(new File(["hello"], "notes.txt", {type: "text/plain"}));
			document.getElementById("media-files").files = dt.files;
			return "set";
		})()`, base64.StdEncoding.EncodeToString(testPNG(t, 300, 150))))
		click("#media-upload")
		waitMessage("Uploaded 2 files")
		tab.WaitJS(`(() => { const i = document.querySelector("td.thumb img"); return i && i.complete && i.naturalWidth === 128; })()`, 10*time.Second)
		rows := tab.Eval(`[...document.querySelectorAll("#view tbody tr")].map(tr => tr.dataset.id + " " + tr.textContent).join("|")`)
		if !strings.Contains(rows, "photo.png") || !strings.Contains(rows, "300 × 150") || !strings.Contains(rows, "notes.txt") {
			t.Errorf("media rows %q lack the uploads", rows)
		}
		checkAccessible(t, tab, "media with files")
		shot("7-media")
		txt := tab.Eval(`[...document.querySelectorAll("#view tbody tr")].find(tr => tr.textContent.includes("notes.txt")).dataset.id`)
		if r := e.do("GET", "/media/"+txt+"/meta", key(fullKey), ""); r.status != 200 {
			t.Fatalf("meta of the upload: %d %s", r.status, r.body)
		}
		click(`button[aria-label="Delete notes.txt"]`)
		click(`button[aria-label="Confirm deleting notes.txt"]`)
		waitMessage("Deleted notes.txt")
		if r := e.do("GET", "/media/"+txt+"/meta", key(fullKey), ""); r.status != 404 {
			t.Errorf("meta after the delete: %d, want 404", r.status)
		}
		setValue("#media-id", "000000000000000000000000")
		click("#media-lookup")
		waitMessage("Error 404")
	})

	t.Run("live feed: a clear message while realtime is off, then another client's writes as they happen", func(t *testing.T) {
		click("#nav-feed")
		view("feed")
		tab.WaitJS(`document.getElementById("feed-status").textContent.includes("Realtime is not enabled")`, 10*time.Second)
		if tab.Eval(`String(document.getElementById("feed-retry").hidden)`) != "false" {
			t.Error("no way to try again while realtime is off")
		}
		checkAccessible(t, tab, "feed (realtime off)")
		e.update(func(c *settings.Config) { c.Settings.Realtime.Enabled = true })
		click("#feed-retry")
		tab.WaitJS(`document.getElementById("feed-status").classList.contains("live")`, 10*time.Second)

		// Another client writes with plain HTTP; each change shows up without a reload.
		r := e.do("POST", "/rest/notes", key(fullKey), `{"title":"from another client"}`)
		var created map[string]any
		if err := json.Unmarshal([]byte(r.body), &created); r.status != 201 || err != nil {
			t.Fatalf("the other client's create: %d %s", r.status, r.body)
		}
		id := created["_id"].(string)
		entry := func(event, want string) {
			t.Helper()
			tab.WaitJS(fmt.Sprintf(`[...document.querySelectorAll('#feed-list li[data-event=%q]')].some(li => li.textContent.includes(%q))`, event, want), 10*time.Second)
		}
		entry("post", "from another client")
		entry("post", "notes / "+id)
		if r := e.do("PUT", "/rest/notes/"+id, key(fullKey), `{"title":"changed elsewhere"}`); r.status != 200 {
			t.Fatalf("the other client's update: %d %s", r.status, r.body)
		}
		entry("put", id)
		if r := e.do("DELETE", "/rest/notes/"+id, key(fullKey), ""); r.status != 200 {
			t.Fatalf("the other client's delete: %d %s", r.status, r.body)
		}
		entry("delete", id)
		if r := e.do("POST", "/realtime", key(fullKey), `{"event":"chat","data":{"text":"hello console"}}`); r.status != 200 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		entry("publish", "hello console")
		// Newest first: the publish is on top, the create at the bottom.
		if order := tab.Eval(`[...document.querySelectorAll("#feed-list li")].map(li => li.dataset.event).join(",")`); order != "publish,delete,put,post" {
			t.Errorf("feed order %q, want publish,delete,put,post", order)
		}
		// The entry of a created document links to its editor.
		if href := tab.Eval(`document.querySelector('#feed-list li[data-event="put"] a').getAttribute("href")`); href != "#/c/notes/edit/"+id {
			t.Errorf("the put entry links to %q", href)
		}
		checkAccessible(t, tab, "feed")
		shot("8-feed")

		// Paused, changes are held and counted; resumed, they show.
		click("#feed-pause")
		e.do("POST", "/rest/notes", key(fullKey), `{"title":"while paused"}`)
		tab.WaitJS(`document.getElementById("feed-pause").textContent === "Resume (1 new)"`, 10*time.Second)
		if strings.Contains(tab.Eval(`document.getElementById("feed-list").textContent`), "while paused") {
			t.Error("a paused feed showed a change")
		}
		click("#feed-pause")
		entry("post", "while paused")

		// Leaving the view closes the stream (the server's subscriber count drops to zero).
		click("#nav-collections")
		view("collections")
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.do("GET", "/metrics", nil, "").body, "restkube_realtime_subscribers 0") {
			if time.Now().After(deadline) {
				t.Fatal("the feed's stream is still open after leaving the view")
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	})

	t.Run("backups: a clear message without an object store, then one taken to an S3-compatible server", func(t *testing.T) {
		click("#nav-backups")
		view("backups")
		tab.WaitJS(`document.getElementById("backup-store").textContent.includes("No object store is configured")`, 10*time.Second)
		if tab.Eval(`String(document.getElementById("backup-start").disabled)`) != "true" {
			t.Error("Start a backup is enabled without an object store")
		}
		checkAccessible(t, tab, "backups (none configured)")

		s3 := s3test.Start(t, "backups")
		s3.WriteCredentials(t, e.creds)
		e.update(func(c *settings.Config) {
			c.Settings.Backup = settings.Backup{Database: "console", ObjectStore: &settings.ObjectStore{Bucket: "backups", Prefix: "console/", Endpoint: s3.Endpoint, PathStyle: true}}
		})
		click("#backup-refresh")
		tab.WaitJS(`document.getElementById("backup-store").textContent.includes("bucket backups")`, 10*time.Second)
		click("#backup-start")
		waitMessage("completed")
		row := tab.Eval(`(() => { const tr = document.querySelector("#view tbody tr"); return tr.dataset.phase + " " + tr.textContent; })()`)
		keys := s3.Keys(t, "backups", "console/")
		if len(keys) != 1 || !strings.HasPrefix(row, "Completed ") || !strings.Contains(row, keys[0]) {
			t.Fatalf("backup row %q, objects in the store %v", row, keys)
		}
		if m := message(); !regexp.MustCompile(`completed: \d+ documents, \d+ media files`).MatchString(m) {
			t.Errorf("message %q lacks the counts", m)
		}
		checkAccessible(t, tab, "backups")
		shot("9-backups")
	})

	t.Run("sign out forgets the key", func(t *testing.T) {
		click("#signout")
		tab.WaitJS(`!document.getElementById("signin").hidden`, 10*time.Second)
		if k := tab.Eval(`sessionStorage.getItem("restkube.console.apikey") || ""`); k != "" {
			t.Errorf("key kept after sign-out")
		}
	})

	if strings.Contains(e.logs.String(), fullKey) {
		t.Error("the server's logs hold the key")
	}
	for _, p := range tab.Problems() {
		// The refused key (401), the conflict (412), the bad query (400) and the unknown media
		// id (404) log failed fetches.
		if !strings.Contains(p, "401") && !strings.Contains(p, "412") && !strings.Contains(p, "400") && !strings.Contains(p, "404") {
			t.Errorf("console: %s", p)
		}
	}
	t.Logf("screenshots in %s", shots)
}

// checkAccessible is a smoke check of the current view: every visible control has an
// accessible name (a label, aria-label, or text), and pressing Tab from the top reaches every
// enabled visible control.
func checkAccessible(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	unlabelled := tab.Eval(`JSON.stringify([...document.querySelectorAll("input,button,select,textarea,a[href]")]
		.filter(e => e.offsetParent !== null)
		.filter(e => {
			const n = e.getAttribute("aria-label") || (e.labels ? [...e.labels].map(l => l.textContent).join(" ") : "") ||
				(e.tagName === "BUTTON" || e.tagName === "A" ? e.textContent : "");
			return !n.trim();
		}).map(e => e.outerHTML.slice(0, 100)))`)
	if unlabelled != "[]" {
		t.Errorf("%s: controls without an accessible name: %s", name, unlabelled)
	}
	n, err := strconv.Atoi(tab.Eval(`String((() => {
		let i = 0;
		for (const e of document.querySelectorAll("input,button,select,textarea,a[href]")) {
			if (e.offsetParent !== null && !e.disabled) e.dataset.a11y = String(i++); else delete e.dataset.a11y;
		}
		document.activeElement && document.activeElement.blur();
		window.__reached = new Set();
		return i;
	})())`))
	if err != nil {
		t.Fatalf("%s: counting controls: %v", name, err)
	}
	for i := 0; i < n+3; i++ {
		if err := chromedp.Do(tab.Ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("%s: Tab: %v", name, err)
		}
		tab.Eval(`String(document.activeElement && document.activeElement.dataset.a11y !== undefined ? window.__reached.add(document.activeElement.dataset.a11y) : 0)`)
	}
	missed := tab.Eval(`JSON.stringify([...document.querySelectorAll("[data-a11y]")].filter(e => !window.__reached.has(e.dataset.a11y)).map(e => e.outerHTML.slice(0, 100)))`)
	if missed != "[]" {
		t.Errorf("%s: Tab does not reach %s", name, missed)
	}
}
