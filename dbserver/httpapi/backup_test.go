package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/internal/s3test"
)

func TestBackupAdminEndpoint(t *testing.T) {
	s3 := s3test.Start(t, "backups")
	creds := t.TempDir()
	s3.WriteCredentials(t, creds)
	cfg := testConfig()
	cfg.Settings.Backup = settings.Backup{Database: "items", ObjectStore: &settings.ObjectStore{Bucket: "backups", Prefix: "t/", Endpoint: s3.Endpoint, PathStyle: true}}
	e := newEnv(t, func(o *Options) {
		svc, err := backup.NewService(backup.ServiceOptions{CopyFile: o.Store.CopyFile, Settings: func() *settings.Config { return cfg }, CredentialsDir: creds})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		o.Backup = svc
	})
	for _, sc := range []scenario{
		{name: "no credentials", method: "POST", url: "/admin/backups", status: 401},
		{name: "a web key may not", method: "POST", url: "/admin/backups", headers: key(readerKey), status: 403, contains: []string{"full-access"}},
		{name: "a user may not", method: "GET", url: "/admin/backups", headers: bearer("alice"), status: 403, contains: []string{"full-access"}},
		{name: "an unknown run", method: "GET", url: "/admin/backups/20260101T000000.000Z-abcdef", headers: key(fullKey), status: 404},
		{name: "a method the list does not serve", method: "DELETE", url: "/admin/backups", headers: key(fullKey), status: 405},
	} {
		r := e.do(sc.method, sc.url, sc.headers, sc.body)
		if r.status != sc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want %d", sc.name, r.status, r.body, sc.status)
		}
		for _, c := range sc.contains {
			if !strings.Contains(r.body, c) {
				t.Errorf("%s: body lacks %q: %s", sc.name, c, r.body)
			}
		}
	}
	if runs := e.do("GET", "/admin/backups", key(fullKey), ""); runs.body != "{\"configured\":true,\"bucket\":\"backups\",\"prefix\":\"t/\",\"runs\":[]}\n" {
		t.Fatalf("no backup taken yet, yet the list is %s", runs.body)
	}

	r := e.do("POST", "/admin/backups", key(fullKey), "")
	if r.status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	var run backup.Run
	if err := json.Unmarshal([]byte(r.body), &run); err != nil || run.ID == "" || run.Phase != backup.PhaseRunning {
		t.Fatalf("run = %s (%v)", r.body, err)
	}
	if loc := r.header.Get("Location"); loc != "/admin/backups/"+run.ID {
		t.Fatalf("Location = %q", loc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for run.Phase == backup.PhaseRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling interval
		r = e.do("GET", "/admin/backups/"+run.ID, key(fullKey), "")
		if err := json.Unmarshal([]byte(r.body), &run); err != nil {
			t.Fatal(err)
		}
	}
	if run.Phase != backup.PhaseCompleted || run.Documents != 7 || !strings.HasPrefix(run.Key, "t/") {
		t.Fatalf("run = %s", r.body)
	}
	if keys := s3.Keys(t, "backups", "t/"); len(keys) != 1 || keys[0] != run.Key {
		t.Fatalf("objects = %v", keys)
	}
	r = e.do("GET", "/admin/backups", key(fullKey), "")
	if r.status != 200 || !strings.Contains(r.body, run.ID) {
		t.Fatalf("list = %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, s3.SecretAccessKey) || strings.Contains(e.logs.String(), s3.SecretAccessKey) {
		t.Fatal("the object store's secret appears in an answer or the logs")
	}
}

func TestBackupAdminEndpointIsNotMountedWithoutAService(t *testing.T) {
	e := newEnv(t)
	if r := e.do("POST", "/admin/backups", key(fullKey), ""); r.status != 404 {
		t.Fatalf("POST /admin/backups without a backup service = %d", r.status)
	}
}

func TestBackupAdminEndpointWithoutAnObjectStore(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		svc, err := backup.NewService(backup.ServiceOptions{CopyFile: o.Store.CopyFile, Settings: o.Settings.Current, CredentialsDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		o.Backup = svc
	})
	if r := e.do("GET", "/admin/backups", key(fullKey), ""); r.status != 200 || r.body != "{\"configured\":false,\"runs\":[]}\n" {
		t.Errorf("GET without an object store = %d %s, want configured false", r.status, r.body)
	}
	if r := e.do("POST", "/admin/backups", key(fullKey), ""); r.status != http.StatusConflict || !strings.Contains(r.body, "backup.objectStore") {
		t.Errorf("POST without an object store = %d %s, want 409 naming backup.objectStore", r.status, r.body)
	}
}
