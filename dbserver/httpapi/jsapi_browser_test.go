package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/realtime"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/internal/browsertest"
)

const pageKey = "web-page-key-0123456789"

// TestJSAPIInChromium loads /rest/_jsapi.js into a page of another origin (another loopback
// port) in headless Chromium and uses restdb.io's JavaScript API with a web key: list, read,
// save (create and update), children, delete, and an error the key's rights cause.
func TestJSAPIInChromium(t *testing.T) {
	e := newEnv(t)
	e.seed("jsitems", "api", `{"name":"apple","n":1}`, `{"name":"banana","n":2}`)

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><script src="%s/rest/_jsapi.js"></script></head>
<body><script>window.db = new restdb(%q, {}); document.body.dataset.ready = "yes";</script></body></html>`, e.url, pageKey)
	}))
	t.Cleanup(page.Close)

	cfg := testConfig()
	cfg.Settings.APIKeys.Web = append(cfg.Settings.APIKeys.Web, settings.WebKey{
		Name: "page", Key: pageKey, Origins: []string{page.URL},
		Paths:   []string{"/jsitems", "/jsitems/**"},
		Methods: []string{"GET", "POST", "PUT", "DELETE"},
	})
	e.src.Set(cfg)

	browser := browsertest.New(t)
	tab := browsertest.NewTab(t, browser)
	tab.Open(page.URL)
	tab.WaitJS(`document.body && document.body.dataset.ready === "yes"`, 20*time.Second)

	t.Run("find lists the documents", func(t *testing.T) {
		got := tab.Eval(`db.jsitems.find({}, {"$orderby": {"n": 1}}).then(l => l.map(d => d.name + ":" + (d instanceof db.jsitems)).join(","))`)
		if got != "apple:true,banana:true" {
			t.Errorf("find = %q", got)
		}
	})
	t.Run("find with a query and a callback", func(t *testing.T) {
		got := tab.Eval(`new Promise(res => db.jsitems.find({"n": {"$gt": 1}}, (err, l) => res(err ? "error " + err.message : l.map(d => d.name).join(","))))`)
		if got != "banana" {
			t.Errorf("find = %q", got)
		}
	})
	t.Run("getById", func(t *testing.T) {
		got := tab.Eval(e.expand(`db.jsitems.getById("{jsitems.0}").then(d => d.name)`))
		if got != "apple" {
			t.Errorf("getById = %q", got)
		}
	})
	var created string
	t.Run("save creates, then updates", func(t *testing.T) {
		created = tab.Eval(`(async () => {
			const o = new db.jsitems({name: "fig", n: 3});
			await o.save();
			o.n = 4;
			await o.save();
			return o._id;
		})()`)
		d, err := e.st.Get("jsitems", created)
		if err != nil {
			t.Fatalf("stored document %q: %v", created, err)
		}
		if d["name"] != "fig" || d["n"] != 4.0 || d["_version"] != 1.0 {
			t.Errorf("stored %v, want fig, 4, version 1", d)
		}
	})
	t.Run("children through addChild and getChild", func(t *testing.T) {
		got := tab.Eval(e.expand(`(async () => {
			const parent = await db.jsitems.getById("{jsitems.1}");
			await parent.addChild("jsitems", new db.jsitems({name: "seed"}));
			const kids = await parent.getChild("jsitems");
			return kids.map(k => k.name + "<" + k._parent_id).join(",");
		})()`))
		if want := e.expand("seed<{jsitems.1}"); got != want {
			t.Errorf("children = %q, want %q", got, want)
		}
	})
	t.Run("delete", func(t *testing.T) {
		got := tab.Eval(fmt.Sprintf(`db.jsitems.getById(%q).then(o => o.delete())`, created))
		if got != created {
			t.Errorf("delete answered %q, want the id %q", got, created)
		}
		if _, err := e.st.Get("jsitems", created); err == nil {
			t.Error("the document is still stored")
		}
	})
	t.Run("the key's rights apply: another collection is refused", func(t *testing.T) {
		got := tab.Eval(`db.tasks.find({}).then(() => "allowed", err => "refused " + err.status)`)
		if got != "refused 403" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("a page on an origin the key does not list is refused by the browser", func(t *testing.T) {
		other := httptest.NewServer(page.Config.Handler)
		t.Cleanup(other.Close)
		tab2 := browsertest.NewTab(t, browser)
		tab2.Open(other.URL)
		tab2.WaitJS(`document.body && document.body.dataset.ready === "yes"`, 20*time.Second)
		got := tab2.Eval(`db.jsitems.find({}).then(l => "read " + l.length, err => "refused " + (err.status || err.name))`)
		if got != "refused TypeError" {
			t.Errorf("got %q, want a CORS failure", got)
		}
	})
	if p := tab.Problems(); len(p) > 0 {
		// The refused request above logs a failed fetch; anything else is a fault of the script.
		for _, m := range p {
			if !strings.Contains(m, "403") {
				t.Errorf("console: %s", m)
			}
		}
	}
}

// TestJSAPIRealtimeInChromium opens restdb.io's JavaScript API with {realtime: true} in a page of
// another origin and checks that db.on("POST") hears a document another client creates, and
// that a publish from the page reaches the page's own db.on handler.
func TestJSAPIRealtimeInChromium(t *testing.T) {
	e := newRealtimeEnv(t, realtime.Options{})

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><script src="%s/rest/_jsapi.js"></script></head>
<body><script>
window.heard = [];
window.db = new restdb(%q, {realtime: true});
db.on("CONNECT", function () { document.body.dataset.connected = "yes"; });
db.on("POST", function (err, evt) { window.heard.push(evt.collection + ":" + evt.data.name); });
db.on("chat", function (err, evt) { window.heard.push("chat:" + evt.data.text); });
document.body.dataset.ready = "yes";
</script></body></html>`, e.url, pageKey)
	}))
	t.Cleanup(page.Close)

	cfg := realtimeConfig()
	cfg.Settings.APIKeys.Web = append(cfg.Settings.APIKeys.Web, settings.WebKey{
		Name: "page", Key: pageKey, Origins: []string{page.URL},
		Paths:    []string{"/rtitems", "/rtitems/**"},
		Methods:  []string{"GET", "POST"},
		Channels: []string{"POST:rtitems", "PUBLISH:chat"},
	})
	e.src.Set(cfg)

	browser := browsertest.New(t)
	tab := browsertest.NewTab(t, browser)
	tab.Open(page.URL)
	tab.WaitJS(`document.body && document.body.dataset.connected === "yes"`, 20*time.Second)

	// Another client's write: the full key, over plain HTTP.
	if r := e.do("POST", "/rest/rtitems", map[string]string{"x-apikey": fullKey}, `{"name":"kiwi"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	// A write to a collection the key has no channel for is not heard.
	if r := e.do("POST", "/rest/tasks", map[string]string{"x-apikey": fullKey}, `{"name":"secret"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tab.WaitJS(`window.heard.indexOf("rtitems:kiwi") >= 0`, 20*time.Second)

	if got := tab.Eval(`db.publish("chat", {text: "hello"}).then(() => "sent", err => "refused " + err.status)`); got != "sent" {
		t.Fatalf("publish: %s", got)
	}
	tab.WaitJS(`window.heard.indexOf("chat:hello") >= 0`, 20*time.Second)
	if got := tab.Eval(`window.heard.join(",")`); strings.Contains(got, "secret") {
		t.Errorf("the page heard a write on a collection outside its channels: %s", got)
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console: %v", p)
	}
}
