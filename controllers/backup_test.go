package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/httpapi"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
	"github.com/restkube/restkube/internal/s3test"
)

// backupDatabase is a Database with spec.backup on endpoint.
func backupDatabase(ns, name, endpoint, schedule string, keep int32) *dbv1.Database {
	return &dbv1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: dbv1.DatabaseSpec{Backup: &dbv1.BackupSpec{
			ObjectStore: dbv1.ObjectStoreSpec{
				Bucket: "backups", Prefix: "restkube/", Endpoint: endpoint, PathStyle: true,
				Credentials: dbv1.ObjectStoreCredentials{
					AccessKeyID:     dbv1.SecretKeyRef{Name: "s3", Key: "id"},
					SecretAccessKey: dbv1.SecretKeyRef{Name: "s3", Key: "secret"},
				},
			},
			Schedule:  schedule,
			Retention: &dbv1.RetentionSpec{KeepLast: ptr.To(keep)},
		}},
	}
}

func TestBackupSettingsAndProjection(t *testing.T) {
	db := backupDatabase("apps", "todo", "http://minio.apps:9000", "", 3)
	s := settingsFor(db, nil)
	if err := s.Validate(); err != nil {
		t.Fatalf("rendered settings are refused by the dbserver: %v", err)
	}
	want := settings.Backup{Database: "apps/todo", ObjectStore: &settings.ObjectStore{
		Bucket: "backups", Prefix: "restkube/apps/todo/", Endpoint: "http://minio.apps:9000", PathStyle: true,
	}, Retention: settings.Retention{KeepLast: 3}}
	got, _ := json.Marshal(s.Backup)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("backup settings = %s, want %s", got, exp)
	}
	var files []string
	for _, src := range configSources(db) {
		for _, it := range src.Secret.Items {
			if src.Secret.Name == "s3" {
				files = append(files, it.Key+"->"+it.Path)
			}
		}
	}
	if strings.Join(files, ",") != "id->backup-access-key-id,secret->backup-secret-access-key" {
		t.Fatalf("projected store keys = %v", files)
	}
	refs := db.ReferencedSecretNames()
	if len(refs) != 1 || refs[0] != "s3" {
		t.Fatalf("referenced Secrets = %v (a missing store Secret must stall like any other)", refs)
	}
}

func TestRestoreInitContainer(t *testing.T) {
	db := backupDatabase("apps", "copy", "", "", 1)
	dep := deploymentFor(db, Options{DefaultImage: "img"})
	addRestore(dep, &restoreSource{store: &db.Spec.Backup.ObjectStore, key: "restkube/apps/todo/20260101T000000.000Z-abcdef.tar.zst"})
	inits := dep.Spec.Template.Spec.InitContainers
	if len(inits) != 1 || inits[0].Name != restoreContainer || inits[0].Image != "img" {
		t.Fatalf("init containers = %+v", inits)
	}
	args := strings.Join(inits[0].Args, " ")
	for _, want := range []string{"restore", "--if-empty", "--from=s3://backups/restkube/apps/todo/20260101T000000.000Z-abcdef.tar.zst", "--s3-path-style=true", "--s3-credentials-dir=" + restoreCredentialsDir} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if sc := inits[0].SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("the init container runs without the dbserver's security context")
	}
	addRestore(dep, nil)
	if len(dep.Spec.Template.Spec.InitContainers) != 1 {
		t.Fatal("addRestore(nil) changed the Deployment")
	}
}

func TestDueTime(t *testing.T) {
	sched, err := cronParser.Parse("0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := map[string]struct{ last, now, due, next string }{
		"not yet due":                   {"2026-01-01T03:00:00Z", "2026-01-01T12:00:00Z", "", "2026-01-02T03:00:00Z"},
		"due now":                       {"2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z", "2026-01-02T03:00:00Z", "2026-01-03T03:00:00Z"},
		"three missed: only the latest": {"2026-01-01T03:00:00Z", "2026-01-04T05:00:00Z", "2026-01-04T03:00:00Z", "2026-01-05T03:00:00Z"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			due, next := dueTime(sched, at(c.last), at(c.now))
			if (c.due == "" && !due.IsZero()) || (c.due != "" && !due.Equal(at(c.due))) || !next.Equal(at(c.next)) {
				t.Fatalf("due, next = %v, %v; want %q, %q", due, next, c.due, c.next)
			}
		})
	}
}

func TestScheduleCreatesDatabaseBackups(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := backupDatabase(ns, "sched", "http://127.0.0.1:1", "*/10 * * * *", 2)
	s.mustCreate(t, db)
	created := db.CreationTimestamp.Time
	now := created
	r := NewScheduledBackupReconciler(s.admin, s.recorder, func() time.Time { return now })
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: db.Name}}
	list := func() []dbv1.DatabaseBackup {
		var l dbv1.DatabaseBackupList
		if err := s.admin.List(context.Background(), &l, client.InNamespace(ns), client.MatchingLabels{LabelBackupDatabase: db.Name}); err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	reconcile := func() ctrl.Result {
		res, err := r.Reconcile(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := reconcile(); len(list()) != 0 || res.RequeueAfter <= 0 || res.RequeueAfter > 10*time.Minute {
		t.Fatalf("at creation: %d backups, requeue %v", len(list()), res.RequeueAfter)
	}
	now = created.Add(25 * time.Minute) // two times passed: one backup, for the latest
	reconcile()
	reconcile()
	items := list()
	if len(items) != 1 || items[0].Spec.Database != db.Name || items[0].Labels[LabelScheduled] != "true" || len(items[0].OwnerReferences) != 0 {
		t.Fatalf("after 25 minutes: %+v", items)
	}
	now = now.Add(10 * time.Minute)
	reconcile()
	if n := len(list()); n != 2 {
		t.Fatalf("after 35 minutes: %d backups, want 2", n)
	}
	s.waitEvent(t, ns, db.Name, corev1.EventTypeNormal, EventBackupScheduled, items[0].Name)
}

func TestBootstrapFromAMissingBackupStalls(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := &dbv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fresh"}, Spec: dbv1.DatabaseSpec{
		Bootstrap: &dbv1.BootstrapSpec{FromBackup: &dbv1.FromBackupSpec{BackupName: "never-taken"}},
	}}
	s.mustCreate(t, db)
	eventually(t, "Stalled with BackupNotFound", func() error {
		got := &dbv1.Database{}
		if err := s.get(ns, db.Name, got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, dbv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonBackupNotFound || !strings.Contains(c.Message, "never-taken") {
			return fmt.Errorf("Stalled = %+v", c)
		}
		return nil
	})
	s.waitEvent(t, ns, db.Name, corev1.EventTypeWarning, ReasonBackupNotFound, "never-taken")
	// No Deployment: the dbserver must not start on an empty volume instead of the backup.
	if err := s.get(ns, db.Name, &appsv1.Deployment{}); err == nil {
		t.Fatal("a Deployment was created although the backup is missing")
	}
	// The CRD refuses a fromBackup naming both a DatabaseBackup and an object key.
	bad := &dbv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both"}, Spec: dbv1.DatabaseSpec{
		Bootstrap: &dbv1.BootstrapSpec{FromBackup: &dbv1.FromBackupSpec{BackupName: "x", Key: "k",
			ObjectStore: &backupDatabase(ns, "x", "", "", 1).Spec.Backup.ObjectStore}},
	}}
	if err := s.admin.Create(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "either backupName") {
		t.Fatalf("create with backupName and key: %v", err)
	}
}

// TestBackupControllerDrivesTheDBServer runs a real dbserver API (in process, over loopback)
// configured from the settings the operator renders, against a real S3 server: a one-off and
// four scheduled DatabaseBackups complete, retention (keepLast 2) leaves two objects, the
// scheduled DatabaseBackups whose archives retention removed are pruned (but not the one-off,
// nor one a Database bootstraps from), events tell each step, and no credential appears in a
// status. Failed scheduled DatabaseBackups are pruned beyond the newest three.
func TestBackupControllerDrivesTheDBServer(t *testing.T) {
	s := envOrSkip(t)
	s3 := s3test.Start(t, "backups")
	ns := s.namespace(t)
	s.mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3"},
		Data: map[string][]byte{"id": []byte(s3.AccessKeyID), "secret": []byte(s3.SecretAccessKey)}})
	db := backupDatabase(ns, "notes", s3.Endpoint, "", 2)
	s.mustCreate(t, db)
	creds := &corev1.Secret{}
	eventually(t, "the credentials Secret", func() error { return s.get(ns, db.CredentialsSecretName(), creds) })
	apiKey := string(creds.Data[keyAPIKey])

	st, err := store.Open(filepath.Join(t.TempDir(), "restkube.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Insert("notes", []store.Doc{{"text": "hello"}}, "t"); err != nil {
		t.Fatal(err)
	}
	cfg := &settings.Config{APIKey: apiKey, SigningKey: "signing", Settings: settingsFor(db, nil)}
	credDir := t.TempDir()
	s3.WriteCredentials(t, credDir)
	svc, err := backup.NewService(backup.ServiceOptions{CopyFile: st.CopyFile, Settings: func() *settings.Config { return cfg }, CredentialsDir: credDir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	api, err := httpapi.New(httpapi.Options{Store: st, Settings: settings.StaticSource(cfg), Backup: svc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(api)
	defer hs.Close()

	r := NewDatabaseBackupReconciler(s.admin, s.admin, BackupOptions{Endpoint: func(*dbv1.Database) string { return hs.URL }, PollInterval: 10 * time.Millisecond, Recorder: s.recorder})
	scheduled := map[string]string{LabelBackupDatabase: db.Name, LabelScheduled: "true"}
	take := func(name string, labels map[string]string) *dbv1.DatabaseBackup {
		t.Helper()
		bk := &dbv1.DatabaseBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: dbv1.DatabaseBackupSpec{Database: db.Name}}
		s.mustCreate(t, bk)
		req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: bk.Name}}
		eventually(t, "DatabaseBackup "+bk.Name+" completes", func() error {
			if _, err := r.Reconcile(context.Background(), req); err != nil {
				return err
			}
			if err := s.get(ns, bk.Name, bk); err != nil {
				return err
			}
			if bk.Status.Phase != dbv1.BackupCompleted {
				return fmt.Errorf("phase %q error %q", bk.Status.Phase, bk.Status.Error)
			}
			return nil
		})
		if !strings.HasPrefix(bk.Status.Key, "restkube/"+ns+"/notes/") || bk.Status.Size <= 0 || bk.Status.Documents != 1 ||
			bk.Status.ObjectStore == nil || !meta.IsStatusConditionTrue(bk.Status.Conditions, dbv1.ConditionReady) {
			t.Fatalf("status = %+v", bk.Status)
		}
		raw, _ := json.Marshal(bk.Status)
		if strings.Contains(string(raw), s3.SecretAccessKey) || strings.Contains(string(raw), apiKey) {
			t.Fatalf("a credential appears in the status: %s", raw)
		}
		s.waitEventAbout(t, ns, "DatabaseBackup", bk.Name, corev1.EventTypeNormal, EventBackupStarted, bk.Status.BackupID)
		s.waitEventAbout(t, ns, "DatabaseBackup", bk.Name, corev1.EventTypeNormal, EventBackupCompleted, bk.Status.Key)
		return bk
	}
	names := func() string {
		var l dbv1.DatabaseBackupList
		if err := s.admin.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range l.Items {
			out = append(out, b.Name)
		}
		return strings.Join(out, ",")
	}
	take("manual", nil)
	take("s0", scheduled)
	s1 := take("s1", scheduled)
	// A Database bootstraps from s1: s1 outlives its archive.
	s.mustCreate(t, &dbv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "copy"}, Spec: dbv1.DatabaseSpec{
		Bootstrap: &dbv1.BootstrapSpec{FromBackup: &dbv1.FromBackupSpec{BackupName: s1.Name}}}})
	s2 := take("s2", scheduled)
	if got := names(); got != "manual,s1,s2" {
		t.Fatalf("DatabaseBackups after s2 = %s, want manual,s1,s2 (s0's archive is past keepLast 2; a one-off stays)", got)
	}
	s.waitEvent(t, ns, db.Name, corev1.EventTypeNormal, EventBackupsPruned, "s0")
	s3b := take("s3", scheduled)
	if got := names(); got != "manual,s1,s2,s3" {
		t.Fatalf("DatabaseBackups after s3 = %s, want manual,s1,s2,s3 (s1 is in use by a bootstrap)", got)
	}
	got := s3.Keys(t, "backups", "restkube/"+ns+"/notes/")
	if want := s2.Status.Key + "," + s3b.Status.Key; strings.Join(got, ",") != want {
		t.Fatalf("objects after retention = %v, want %v", got, want)
	}

	// A DatabaseBackup of a Database without spec.backup fails, with the reason, told as an
	// event on both; of five failed scheduled ones, the newest three are kept.
	plain := &dbv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"}}
	s.mustCreate(t, plain)
	for i := range 5 {
		bk := &dbv1.DatabaseBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("plain-%d", i),
			Labels: map[string]string{LabelBackupDatabase: "plain", LabelScheduled: "true"}}, Spec: dbv1.DatabaseBackupSpec{Database: "plain"}}
		s.mustCreate(t, bk)
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: bk.Name}}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			continue
		}
		if err := s.get(ns, bk.Name, bk); err != nil {
			t.Fatal(err)
		}
		if bk.Status.Phase != dbv1.BackupFailed || !strings.Contains(bk.Status.Error, "no spec.backup") || !meta.IsStatusConditionTrue(bk.Status.Conditions, dbv1.ConditionStalled) {
			t.Fatalf("status = %+v", bk.Status)
		}
		s.waitEventAbout(t, ns, "DatabaseBackup", bk.Name, corev1.EventTypeWarning, EventBackupFailed, "no spec.backup")
		s.waitEvent(t, ns, "plain", corev1.EventTypeWarning, EventBackupFailed, bk.Name)
	}
	if got := names(); got != "manual,plain-2,plain-3,plain-4,s1,s2,s3" {
		t.Fatalf("DatabaseBackups after five failures = %s, want the newest three failed kept", got)
	}
}

// TestBackupEndpointNeedsNoClusterDNS: the operator reaches a dbserver at its Service's cluster
// IP (clusters without DNS for the operator's pod still back up), and falls back to the DNS name
// only while the Service does not exist.
func TestBackupEndpointNeedsNoClusterDNS(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := &dbv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "notes"}}
	r := NewDatabaseBackupReconciler(s.admin, s.admin, BackupOptions{})
	got, err := r.endpoint(t.Context(), db)
	if err != nil || got != "http://notes."+ns+".svc:80" {
		t.Fatalf("without a Service: %q, %v; want the DNS name", got, err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "notes"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: servicePort}}}}
	s.mustCreate(t, svc)
	if svc.Spec.ClusterIP == "" {
		t.Fatal("the API server assigned no cluster IP")
	}
	if got, err = r.endpoint(t.Context(), db); err != nil || got != "http://"+svc.Spec.ClusterIP+":80" {
		t.Fatalf("with a Service: %q, %v; want http://%s:80", got, err, svc.Spec.ClusterIP)
	}
}
