//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/restkube/restkube/internal/testutil"
)

// TestMedia runs a Database with a media archive: uploads through its Service, downloads a
// range and a thumbnail, checks the upload limit, and finds the files (and the kept
// thumbnail) again after the pod is deleted. It installs the chart for itself and removes it.
func TestMedia(t *testing.T) {
	e := loadEnv(t)
	repo, tag := e.imageUnderTest(t)
	const ns, name = "e2e-media", "album"
	step := steps(t)
	e.startClean(t, ns)
	manifest := fmt.Sprintf(`apiVersion: db.restkube.dev/v1alpha1
kind: Database
metadata: {name: %s}
spec:
  storage: {size: 64Mi}
  limits: {maxMediaBytes: 4194304}
  resources: {requests: {cpu: 10m, memory: 32Mi}}
`, name)

	var base, key string
	pod := func(t *testing.T) corev1.Pod {
		t.Helper()
		var pods corev1.PodList
		e.getJSON(t, &pods, "-n", ns, "get", "pods", "-l", "app.kubernetes.io/instance="+name)
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				return p
			}
		}
		t.Fatal("no live dbserver pod")
		return corev1.Pod{}
	}
	photo := e2ePNG(640, 480)
	var photoID, noteID string

	step("a Database serves", func(t *testing.T) {
		e.installOperator(t, release, releaseNS, repo, tag)
		base, key = e.applyDatabase(t, ns, name, manifest)
	})

	step("upload through the Service", func(t *testing.T) {
		ids := mediaUpload(t, base, key, http.StatusCreated, [2]string{"photo.png", string(photo)}, [2]string{"note.txt", "kept on the claim"})
		photoID, noteID = ids[0], ids[1]
		// Over spec.limits.maxMediaBytes: refused, nothing kept.
		mediaUpload(t, base, key, http.StatusRequestEntityTooLarge, [2]string{"big.bin", strings.Repeat("x", 4<<20+1)})
	})

	checkFiles := func(t *testing.T) {
		r := mustCall(t, http.MethodGet, base+"/media/"+photoID, map[string]string{"Range": "bytes=0-7"}, nil, http.StatusPartialContent, nil)
		if string(r.body) != "\x89PNG\r\n\x1a\n" {
			t.Errorf("range 0-7 = %q", r.body)
		}
		r = mustCall(t, http.MethodGet, base+"/media/"+photoID+"?s=t", nil, nil, http.StatusOK, nil)
		if c, err := png.DecodeConfig(bytes.NewReader(r.body)); err != nil || c.Width != 128 || c.Height != 96 {
			t.Errorf("thumbnail %dx%d (%v), want 128x96", c.Width, c.Height, err)
		}
		r = mustCall(t, http.MethodGet, base+"/media/"+noteID, nil, nil, http.StatusOK, nil)
		if string(r.body) != "kept on the claim" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("note = %q, headers %v", r.body, r.header)
		}
		var meta struct {
			Size int64 `json:"size"`
		}
		mustCall(t, http.MethodGet, base+"/media/"+photoID+"/meta", map[string]string{"x-apikey": key}, nil, http.StatusOK, &meta)
		if meta.Size != int64(len(photo)) {
			t.Errorf("meta size %d, want %d", meta.Size, len(photo))
		}
	}
	step("download a range and a thumbnail", checkFiles)

	step("the files survive the pod's deletion", func(t *testing.T) {
		old := pod(t)
		e.kubectl(t, "-n", ns, "delete", "pod", old.Name, "--wait", "--timeout=2m")
		testutil.Eventually(t, 3*time.Minute, "a new dbserver pod serves the photo", func() error {
			p := pod(t)
			if p.UID == old.UID {
				return fmt.Errorf("the old pod %s is still the live one", old.Name)
			}
			r, err := call(http.MethodGet, base+"/media/"+photoID, nil, nil)
			if err == nil && (r.status != http.StatusOK || !bytes.Equal(r.body, photo)) {
				err = fmt.Errorf("GET the photo: %d, %d bytes", r.status, len(r.body))
			}
			return err
		})
		checkFiles(t)
	})
}

// mediaUpload posts files (name, content) as one multipart upload, expects want, and returns
// the ids of a 201.
func mediaUpload(t *testing.T, base, key string, want int, files ...[2]string) []string {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(f[1]))
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, base+"/media", &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-apikey", key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST /media: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST /media: %d %s, want %d", resp.StatusCode, body, want)
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	if want == http.StatusCreated {
		if err := json.Unmarshal(body, &out); err != nil || len(out.IDs) != len(files) {
			t.Fatalf("POST /media answered %s", body)
		}
	}
	return out.IDs
}

func e2ePNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}
