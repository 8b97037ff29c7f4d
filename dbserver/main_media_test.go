package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/restkube/restkube/internal/testutil"
)

// The dbserver keeps its media archive in <data-dir>/media: a file uploaded before a restart
// is served after it, and what a crash left there (tmp/ files, files without metadata) is
// gone once the dbserver has started again.
func TestMediaArchiveOnTheDataDir(t *testing.T) {
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(cfgDir, "settings.json"), `{}`)
	testutil.WriteFile(t, filepath.Join(cfgDir, "api-key"), oldKey)
	testutil.WriteFile(t, filepath.Join(cfgDir, "signing-key"), "signing-0123456789")
	p := start(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "hello.txt")
	_, _ = io.WriteString(w, "hello, archive")
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, p.addr+"/media", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-apikey", oldKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ IDs []string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || len(out.IDs) != 1 {
		t.Fatalf("upload: %d %v", res.StatusCode, out)
	}
	id := out.IDs[0]
	if b, err := os.ReadFile(filepath.Join(dataDir, "media", id)); err != nil || string(b) != "hello, archive" {
		t.Fatalf("<data-dir>/media/%s = %q, %v", id, b, err)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, p.logs())
	}

	// What a crash would leave behind.
	orphan := filepath.Join(dataDir, "media", "00000000000000000000abcd")
	testutil.WriteFile(t, orphan, "uploaded, never committed")
	testutil.WriteFile(t, filepath.Join(dataDir, "media", "tmp", "upload-1"), "half")

	p = start(t, "--data-dir="+dataDir, "--config-dir="+cfgDir)
	res, err = http.Get(p.addr + "/media/" + id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(b) != "hello, archive" {
		t.Errorf("after a restart GET /media/%s = %d %q", id, res.StatusCode, b)
	}
	for _, left := range []string{orphan, filepath.Join(dataDir, "media", "tmp", "upload-1")} {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Errorf("%s survived the start: %v", left, err)
		}
	}
	if got := p.metric("restkube_media_files"); got != 1 {
		t.Errorf("restkube_media_files = %v, want 1", got)
	}
}
