package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(handler(dir))
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"healthz", http.MethodGet, "/healthz", "", http.StatusOK, "ok"},
		{"whoami", http.MethodGet, "/whoami", "", http.StatusOK, fmt.Sprintf("uid=%d gid=%d", os.Getuid(), os.Getgid())},
		{"write a file", http.MethodPut, "/files/note", "hello", http.StatusCreated, ""},
		{"read it back", http.MethodGet, "/files/note", "", http.StatusOK, "hello"},
		{"a missing file", http.MethodGet, "/files/absent", "", http.StatusNotFound, "not found\n"},
		{"a dot file", http.MethodPut, "/files/.hidden", "x", http.StatusBadRequest, "bad file name\n"},
		{"an escaped separator", http.MethodGet, "/files/..%2Fetc", "", http.StatusBadRequest, "bad file name\n"},
		{"a body over 1 MiB", http.MethodPut, "/files/big", strings.Repeat("x", maxBody+1), http.StatusRequestEntityTooLarge, "body too large or unreadable\n"},
		{"fetch reports a refused connection", http.MethodGet, "/fetch?url=http://127.0.0.1:1/", "", http.StatusOK, "error "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.body)
			if status != tc.status || !strings.HasPrefix(body, tc.want) || (tc.want == "" && body != "") {
				t.Fatalf("%s %s = %d %q, want %d %q", tc.method, tc.path, status, body, tc.status, tc.want)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "note")); err != nil || string(b) != "hello" {
		t.Fatalf("the file on disk holds %q (%v)", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "big")); !os.IsNotExist(err) {
		t.Fatalf("an oversized body was written: %v", err)
	}
}

func TestFetchReportsStatus(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(handler(t.TempDir()))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/fetch?url=" + target.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "status 418" {
		t.Fatalf("fetch answered %q", b)
	}
}
