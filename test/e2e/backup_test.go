//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/internal/testutil"
)

// TestBackupRoundTrip writes documents, backs the Database up with a DatabaseBackup to an
// S3-compatible server (versitygw, built by make s3-server, listening on the node address so
// that pods reach it), deletes the Database and its claim, creates a new Database from the
// backup and reads the same documents and media file from it.
func TestBackupRoundTrip(t *testing.T) {
	e := loadEnv(t)
	if e.image == "" {
		t.Fatal("E2E_IMAGE must name the operator image imported into the node (make test-e2e sets it)")
	}
	repo, tag, _ := splitImage(e.image)
	const (
		ns      = "e2e-backup"
		rel     = "restkube-backup"
		access  = "e2e-backup-access"
		secret  = "e2e-backup-secret-0123456789"
		srcName = "notes"
		newName = "notes-restored"
	)
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	// The object store, on the node address.
	ln, err := net.Listen("tcp", net.JoinHostPort(e.nodeIP, "0"))
	if err != nil {
		t.Fatalf("listening on the node address: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	storeDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(storeDir, "backups"), 0o755); err != nil { // a bucket is a folder
		t.Fatal(err)
	}
	s3 := exec.Command(filepath.Join(e.root, "bin", "versitygw"), "--access", access, "--secret", secret, "--port", addr, "posix", storeDir)
	if err := s3.Start(); err != nil {
		t.Fatalf("starting versitygw (make s3-server): %v", err)
	}
	t.Cleanup(func() { _ = s3.Process.Kill(); _ = s3.Wait() })

	_, _ = e.run(t.Context(), nil, e.helm, "uninstall", rel, "-n", rel, "--wait")
	e.kubectl(t, "delete", "namespace", ns, "--ignore-not-found", "--wait", "--timeout=3m")
	step("helm install", func(t *testing.T) {
		e.installOperator(t, rel, rel, repo, tag)
	})
	t.Cleanup(func() {
		_, _ = e.run(t.Context(), nil, e.helm, "uninstall", rel, "-n", rel, "--wait")
		_, _ = e.kubectlErr("delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	})
	e.kubectl(t, "create", "namespace", ns)

	store := fmt.Sprintf(`
    objectStore:
      bucket: backups
      endpoint: http://%s
      pathStyle: true
      credentials:
        accessKeyID: {name: s3, key: id}
        secretAccessKey: {name: s3, key: secret}`, addr)
	e.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: s3}
stringData: {id: %s, secret: %s}
---
apiVersion: db.restkube.dev/v1alpha1
kind: Database
metadata: {name: %s}
spec:
  storage: {size: 64Mi, deletionPolicy: Delete}
  backup:%s
`, access, secret, srcName, store))

	var base, key, photoID string
	titles := []string{"first", "second", "third"}
	photo := e2ePNG(64, 48)
	step("write documents and a media file", func(t *testing.T) {
		e.kubectl(t, "-n", ns, "wait", "database/"+srcName, "--for=condition=Ready", "--timeout=3m")
		key = secretValue(t, e, ns, srcName+"-credentials", "api-key")
		base = e.portForward(t, ns, "service/"+srcName, "80")
		for _, title := range titles {
			mustCall(t, "POST", base+"/rest/notes", map[string]string{"x-apikey": key}, map[string]string{"title": title}, 201, nil)
		}
		photoID = mediaUpload(t, base, key, http.StatusCreated, [2]string{"photo.png", string(photo)})[0]
	})
	step("DatabaseBackup completes", func(t *testing.T) {
		e.apply(t, ns, fmt.Sprintf("apiVersion: db.restkube.dev/v1alpha1\nkind: DatabaseBackup\nmetadata: {name: before-delete}\nspec: {database: %s}\n", srcName))
		if _, err := e.kubectlErr("-n", ns, "wait", "rdbb/before-delete", "--for=condition=Ready", "--timeout=3m"); err != nil {
			for _, args := range [][]string{
				{"-n", ns, "get", "rdbb/before-delete", "-o", "yaml"},
				{"-n", ns, "get", "events", "--sort-by=.lastTimestamp"},
				{"-n", rel, "logs", "deployment/" + rel, "--tail=40"},
				{"-n", ns, "logs", "deployment/" + srcName, "--tail=40"},
			} {
				out, err := e.kubectlErr(args...)
				t.Logf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			t.Fatalf("the DatabaseBackup did not become Ready: %v", err)
		}
		status := e.kubectl(t, "-n", ns, "get", "rdbb/before-delete", "-o", "jsonpath={.status}")
		if strings.Contains(status, secret) || strings.Contains(status, key) {
			t.Fatalf("a credential appears in the status: %s", status)
		}
	})
	step("delete the Database and its claim", func(t *testing.T) {
		e.kubectl(t, "-n", ns, "delete", "database", srcName, "--wait", "--timeout=3m")
		e.kubectl(t, "-n", ns, "delete", "pvc", srcName+"-data", "--ignore-not-found", "--wait", "--timeout=3m")
	})
	step("a new Database from the backup serves the same documents and file", func(t *testing.T) {
		e.apply(t, ns, fmt.Sprintf("apiVersion: db.restkube.dev/v1alpha1\nkind: Database\nmetadata: {name: %s}\nspec:\n  storage: {size: 64Mi, deletionPolicy: Delete}\n  bootstrap:\n    fromBackup: {backupName: before-delete}\n", newName))
		e.kubectl(t, "-n", ns, "wait", "database/"+newName, "--for=condition=Ready", "--timeout=5m")
		newKey := secretValue(t, e, ns, newName+"-credentials", "api-key")
		url := e.portForward(t, ns, "service/"+newName, "80")
		var docs []doc
		testutil.Eventually(t, time.Minute, "the restored documents", func() error {
			docs = nil
			r, err := call("GET", url+"/rest/notes", map[string]string{"x-apikey": newKey}, nil)
			if err != nil || r.status != 200 {
				return fmt.Errorf("GET: %v %v", r, err)
			}
			return json.Unmarshal(r.body, &docs)
		})
		if got := titlesOf(docs); got != strings.Join(titles, ",") {
			t.Fatalf("restored titles = %s, want %s", got, strings.Join(titles, ","))
		}
		r := mustCall(t, http.MethodGet, url+"/media/"+photoID, nil, nil, http.StatusOK, nil)
		if !bytes.Equal(r.body, photo) {
			t.Fatalf("restored media file %s: %d bytes, want the %d uploaded", photoID, len(r.body), len(photo))
		}
		var meta struct {
			Size     int64  `json:"size"`
			OrigName string `json:"origname"`
		}
		mustCall(t, http.MethodGet, url+"/media/"+photoID+"/meta", map[string]string{"x-apikey": newKey}, nil, http.StatusOK, &meta)
		if meta.Size != int64(len(photo)) || meta.OrigName != "photo.png" {
			t.Fatalf("restored media meta = %+v, want size %d and name photo.png", meta, len(photo))
		}
	})
	step("a Database from a missing backup is Stalled", func(t *testing.T) {
		e.apply(t, ns, "apiVersion: db.restkube.dev/v1alpha1\nkind: Database\nmetadata: {name: from-nothing}\nspec:\n  bootstrap:\n    fromBackup: {backupName: never-taken}\n")
		e.kubectl(t, "-n", ns, "wait", "database/from-nothing", "--for=jsonpath={.status.conditions[?(@.type==\"Stalled\")].reason}=BackupNotFound", "--timeout=2m")
	})
}

// secretValue reads one key of a Secret.
func secretValue(t *testing.T, e env, ns, name, key string) string {
	t.Helper()
	enc := e.kubectl(t, "-n", ns, "get", "secret", name, "-o", "jsonpath={.data."+key+"}")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 {
		t.Fatalf("no %s in Secret %s: %v", key, name, err)
	}
	return string(b)
}
