package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConnectionsBeyondTheCapGetAFastJSON503: with a cap of 2, two open connections take the
// slots, a third gets our JSON 503 without reaching the handler, and once one closes a new
// connection is served.
func TestConnectionsBeyondTheCapGetAFastJSON503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{}, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served <- struct{}{}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})}
	go func() { _ = srv.Serve(LimitListener(ln, 2)) }()
	t.Cleanup(func() { _ = srv.Close() })

	get := func(c net.Conn) (*http.Response, string) {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if res, _ := get(c); res.StatusCode != 200 {
			t.Fatalf("within the cap: %d", res.StatusCode)
		}
		held = append(held, c)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, body := get(c)
	var e Error
	if res.StatusCode != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil ||
		e.Name != "ServiceUnavailable" || !strings.Contains(e.Message, "too many connections") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("beyond the cap: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if len(served) != 2 {
		t.Fatalf("the handler ran %d times, want 2: the refused connection reached it", len(served))
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		res, _ := get(c)
		c.Close()
		if res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a slot was not given back after a connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
