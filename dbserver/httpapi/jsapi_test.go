package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestJSAPI(t *testing.T) {
	e := newEnv(t)
	get := func(t *testing.T, method string, h map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.url+"/rest/_jsapi.js", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}
	t.Run("served without a key, as JavaScript, cached, not sniffed", func(t *testing.T) {
		res, body := get(t, "GET", nil)
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		for k, want := range map[string]string{
			"Content-Type": "text/javascript; charset=utf-8", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin", "ETag": jsapiETag,
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if !bytes.Equal(body, jsapiSource) || !strings.Contains(string(body), "global.restdb = restdb") {
			t.Errorf("body is not the JavaScript API (%d bytes)", len(body))
		}
	})
	t.Run("a wrong key does not matter", func(t *testing.T) {
		if res, _ := get(t, "GET", map[string]string{"x-apikey": "wrong"}); res.StatusCode != 200 {
			t.Errorf("status %d, want 200", res.StatusCode)
		}
	})
	t.Run("plainjs=true is the same script", func(t *testing.T) {
		res, err := http.Get(e.url + "/rest/_jsapi.js?plainjs=true")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("status %d", res.StatusCode)
		}
	})
	t.Run("If-None-Match answers 304", func(t *testing.T) {
		res, body := get(t, "GET", map[string]string{"If-None-Match": jsapiETag})
		if res.StatusCode != 304 || len(body) != 0 {
			t.Errorf("status %d with %d bytes, want 304 and none", res.StatusCode, len(body))
		}
	})
	t.Run("HEAD has the headers and no body", func(t *testing.T) {
		res, body := get(t, "HEAD", nil)
		if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Type") == "" {
			t.Errorf("status %d, %d bytes, type %q", res.StatusCode, len(body), res.Header.Get("Content-Type"))
		}
	})
	t.Run("POST is 405", func(t *testing.T) {
		if res, _ := get(t, "POST", nil); res.StatusCode != 405 {
			t.Errorf("status %d, want 405", res.StatusCode)
		}
	})
	t.Run("a CORS request from an allowed origin gets the CORS headers", func(t *testing.T) {
		res, _ := get(t, "GET", map[string]string{"Origin": appOrigin})
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin {
			t.Errorf("status %d, Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}
