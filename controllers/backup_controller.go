/*
Copyright 2026 The RestKube Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/backup"
)

// Reasons a DatabaseBackup's conditions carry.
const (
	ReasonBackupPending   = "Pending"
	ReasonBackupRunning   = "Running"
	ReasonBackupCompleted = "Completed"
	ReasonBackupFailed    = "Failed"
)

// Reasons of the events about backups (on the DatabaseBackup, or on its Database).
const (
	// EventBackupStarted: the dbserver accepted the backup (on the DatabaseBackup).
	EventBackupStarted = "Started"
	// EventBackupCompleted: the archive is in the store (on the DatabaseBackup).
	EventBackupCompleted = "Completed"
	// EventBackupFailed: the backup failed (on the DatabaseBackup and on its Database).
	EventBackupFailed = "BackupFailed"
	// EventRetentionFailed: the backup is good but retention could not delete old archives.
	EventRetentionFailed = "RetentionFailed"
	// EventBackupScheduled: the schedule created a DatabaseBackup (on the Database).
	EventBackupScheduled = "BackupScheduled"
	// EventBackupsPruned: scheduled DatabaseBackups were deleted (on the Database).
	EventBackupsPruned = "BackupsPruned"
	// EventPruneFailed: deleting old scheduled DatabaseBackups failed (on the Database).
	EventPruneFailed = "PruneFailed"
)

// KeepFailedScheduledBackups is how many failed scheduled DatabaseBackups of a Database are
// kept, newest first, for their error; older failed ones are deleted.
const KeepFailedScheduledBackups = 3

// BackupOptions configure the DatabaseBackupReconciler.
type BackupOptions struct {
	// HTTPClient reaches the dbservers' admin endpoint; default a client with a 30s timeout.
	HTTPClient *http.Client
	// Endpoint is the base URL of a Database's API; default its Service's cluster IP (so that
	// the operator needs no cluster DNS), or its cluster DNS name while the Service has none.
	Endpoint func(db *dbv1.Database) string
	// PollInterval is how often a running backup is looked at; default 5s.
	PollInterval time.Duration
	// Recorder records the events of backups; default none (for tests that do not look).
	Recorder events.EventRecorder
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// nopRecorder drops events.
type nopRecorder struct{}

func (nopRecorder) Eventf(_, _ runtime.Object, _, _, _, _ string, _ ...any) {}

// DatabaseBackupReconciler drives one-off backups: it asks the Database's dbserver to take a
// backup through its admin endpoint (with the full-access key), follows the run until it ends,
// and records the outcome in the DatabaseBackup's status.
type DatabaseBackupReconciler struct {
	client    client.Client
	apiReader client.Reader
	opts      BackupOptions
}

// NewDatabaseBackupReconciler returns the reconciler of DatabaseBackups.
func NewDatabaseBackupReconciler(c client.Client, apiReader client.Reader, opts BackupOptions) *DatabaseBackupReconciler {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.Recorder == nil {
		opts.Recorder = nopRecorder{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DatabaseBackupReconciler{client: c, apiReader: apiReader, opts: opts}
}

// Deleting DatabaseBackups is the one deletion the operator makes: pruning the scheduled ones
// whose archives retention removed (see pruneScheduled).
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databasebackups,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databasebackups/status,verbs=get;patch;update

// SetupWithManager registers the controller.
func (r *DatabaseBackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&dbv1.DatabaseBackup{}).Named("databasebackup").Complete(r)
}

// Reconcile moves one DatabaseBackup along Pending → Running → Completed or Failed, records an
// event at each move, and when it ends prunes the Database's scheduled DatabaseBackups.
func (r *DatabaseBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	bk := &dbv1.DatabaseBackup{}
	if err := r.client.Get(ctx, req.NamespacedName, bk); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	switch bk.Status.Phase {
	case dbv1.BackupCompleted, dbv1.BackupFailed:
		return ctrl.Result{}, nil
	}
	before := bk.Status.DeepCopy()
	var note string // why the last attempt to reach the dbserver failed, if it did
	db, res, err := r.step(ctx, bk, &note)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBackupConditions(bk, note)
	if !equalStatus(before, &bk.Status) {
		if err := r.client.Status().Update(ctx, bk); err != nil {
			return ctrl.Result{}, fmt.Errorf("while writing the status of DatabaseBackup %q: %w", bk.Name, err)
		}
	}
	if before.Phase != bk.Status.Phase {
		r.recordPhase(bk, db)
		if db != nil && (bk.Status.Phase == dbv1.BackupCompleted || bk.Status.Phase == dbv1.BackupFailed) {
			r.pruneScheduled(ctx, db, bk)
		}
	}
	return res, nil
}

// recordPhase records the event of bk's new phase; a failure is told on the Database too
// (db, nil when it does not exist), where `kubectl describe database` shows it.
func (r *DatabaseBackupReconciler) recordPhase(bk *dbv1.DatabaseBackup, db *dbv1.Database) {
	var related runtime.Object
	if db != nil {
		related = db
	}
	rec := r.opts.Recorder
	switch bk.Status.Phase {
	case dbv1.BackupRunning:
		rec.Eventf(bk, related, corev1.EventTypeNormal, EventBackupStarted, "Backup", "the dbserver started backup %s to %s", bk.Status.BackupID, bk.Status.Key)
	case dbv1.BackupCompleted:
		rec.Eventf(bk, related, corev1.EventTypeNormal, EventBackupCompleted, "Backup", "backed up %d documents (%d bytes) to %s", bk.Status.Documents, bk.Status.Size, bk.Status.Key)
		if bk.Status.Error != "" {
			rec.Eventf(bk, related, corev1.EventTypeWarning, EventRetentionFailed, "Backup", "%s", bk.Status.Error)
		}
	case dbv1.BackupFailed:
		rec.Eventf(bk, related, corev1.EventTypeWarning, EventBackupFailed, "Backup", "%s", bk.Status.Error)
		if db != nil {
			rec.Eventf(db, bk, corev1.EventTypeWarning, EventBackupFailed, "Backup", "DatabaseBackup %s failed: %s", bk.Name, bk.Status.Error)
		}
	}
}

// pruneScheduled deletes the scheduled DatabaseBackups of db that no longer stand for
// anything: the Completed ones whose archives the dbserver's retention has just deleted (the
// same rule, backup.Expired, applied to their keys; only when this backup, done, reports no
// retention error), and the Failed ones beyond the newest KeepFailedScheduledBackups. A
// DatabaseBackup a Database's spec.bootstrap.fromBackup names is always kept, and so is every
// DatabaseBackup a user created. Failures are told as an event and retried at the next end.
func (r *DatabaseBackupReconciler) pruneScheduled(ctx context.Context, db *dbv1.Database, done *dbv1.DatabaseBackup) {
	doomed, err := r.prunable(ctx, db, done)
	var errs []string
	if err == nil {
		for _, bk := range doomed {
			err := r.client.Delete(ctx, bk, client.Preconditions{UID: &bk.UID})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err.Error())
			}
		}
	} else {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		logf.FromContext(ctx).Error(fmt.Errorf("%s", strings.Join(errs, "; ")), "pruning scheduled DatabaseBackups", "database", db.Name)
		r.opts.Recorder.Eventf(db, nil, corev1.EventTypeWarning, EventPruneFailed, "Prune", "deleting old scheduled DatabaseBackups: %s", strings.Join(errs, "; "))
		return
	}
	if len(doomed) > 0 {
		names := make([]string, len(doomed))
		for i, bk := range doomed {
			names[i] = bk.Name
		}
		r.opts.Recorder.Eventf(db, nil, corev1.EventTypeNormal, EventBackupsPruned, "Prune", "deleted scheduled DatabaseBackups %s (archive past retention, or failed beyond the newest %d)",
			strings.Join(names, ", "), KeepFailedScheduledBackups)
	}
}

// prunable lists the DatabaseBackups pruneScheduled deletes.
func (r *DatabaseBackupReconciler) prunable(ctx context.Context, db *dbv1.Database, done *dbv1.DatabaseBackup) ([]*dbv1.DatabaseBackup, error) {
	var list dbv1.DatabaseBackupList
	if err := r.client.List(ctx, &list, client.InNamespace(db.Namespace)); err != nil {
		return nil, fmt.Errorf("while listing the DatabaseBackups of %q: %w", db.Name, err)
	}
	var dbs dbv1.DatabaseList
	if err := r.client.List(ctx, &dbs, client.InNamespace(db.Namespace)); err != nil {
		return nil, fmt.Errorf("while listing the Databases of namespace %q: %w", db.Namespace, err)
	}
	inUse := map[string]bool{}
	for _, d := range dbs.Items {
		if b := d.Spec.Bootstrap; b != nil && b.FromBackup != nil && b.FromBackup.BackupName != "" {
			inUse[b.FromBackup.BackupName] = true
		}
	}
	var completed, failed []*dbv1.DatabaseBackup
	for i := range list.Items {
		bk := &list.Items[i]
		if bk.Spec.Database != db.Name || !bk.DeletionTimestamp.IsZero() {
			continue
		}
		switch bk.Status.Phase {
		case dbv1.BackupCompleted:
			completed = append(completed, bk)
		case dbv1.BackupFailed:
			failed = append(failed, bk)
		}
	}
	prunable := func(bk *dbv1.DatabaseBackup) bool {
		return bk.Labels[LabelScheduled] == "true" && !inUse[bk.Name] && bk.UID != done.UID
	}
	var out []*dbv1.DatabaseBackup
	if db.Spec.Backup != nil && db.Spec.Backup.Retention != nil && done.Status.Phase == dbv1.BackupCompleted && done.Status.Error == "" && sameStore(done.Status.ObjectStore, &db.Spec.Backup.ObjectStore) {
		// The archives the dbserver's retention kept or deleted are those under the store and
		// prefix this backup went to: the others are left alone.
		prefix := db.BackupPrefix()
		byKey := map[string]*dbv1.DatabaseBackup{}
		var keys []string
		for _, bk := range completed {
			if sameStore(bk.Status.ObjectStore, done.Status.ObjectStore) && strings.HasPrefix(bk.Status.Key, prefix) {
				byKey[bk.Status.Key] = bk
				keys = append(keys, bk.Status.Key)
			}
		}
		now := r.opts.Now()
		if c := done.Status.CompletedAt; c != nil {
			now = c.Time
		}
		rs := backupSettingsFor(db).Retention
		for _, key := range backup.Expired(prefix, keys, rs, done.Status.Key, now) {
			if bk := byKey[key]; prunable(bk) {
				out = append(out, bk)
			}
		}
	}
	// Failed ones, newest first by creation; the newest few are kept for their error.
	slices.SortFunc(failed, func(a, b *dbv1.DatabaseBackup) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	kept := 0
	for _, bk := range failed {
		if bk.Labels[LabelScheduled] != "true" {
			continue
		}
		if kept < KeepFailedScheduledBackups || !prunable(bk) {
			kept++
			continue
		}
		out = append(out, bk)
	}
	return out, nil
}

// sameStore reports whether a and b name the same bucket on the same endpoint.
func sameStore(a, b *dbv1.ObjectStoreSpec) bool {
	return a != nil && b != nil && a.Bucket == b.Bucket && strings.TrimSuffix(a.Endpoint, "/") == strings.TrimSuffix(b.Endpoint, "/")
}

func equalStatus(a, b *dbv1.DatabaseBackupStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// step does the next thing for bk and changes its status accordingly; note says why the
// dbserver could not be reached, if it could not. It returns bk's Database, nil when it does
// not exist.
func (r *DatabaseBackupReconciler) step(ctx context.Context, bk *dbv1.DatabaseBackup, note *string) (*dbv1.Database, ctrl.Result, error) {
	db := &dbv1.Database{}
	res, err := r.stepWith(ctx, bk, db, note)
	if db.UID == "" {
		db = nil
	}
	return db, res, err
}

// stepWith is step, reading the Database into db.
func (r *DatabaseBackupReconciler) stepWith(ctx context.Context, bk *dbv1.DatabaseBackup, db *dbv1.Database, note *string) (ctrl.Result, error) {
	fail := func(format string, args ...any) (ctrl.Result, error) {
		bk.Status.Phase = dbv1.BackupFailed
		bk.Status.Error = fmt.Sprintf(format, args...)
		if bk.Status.CompletedAt == nil {
			now := metav1.Now()
			bk.Status.CompletedAt = &now
		}
		return ctrl.Result{}, nil
	}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: bk.Namespace, Name: bk.Spec.Database}, db)
	if apierrors.IsNotFound(err) {
		return fail("Database %q not found in namespace %q", bk.Spec.Database, bk.Namespace)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("while reading Database %q: %w", bk.Spec.Database, err)
	}
	if db.Spec.Backup == nil {
		return fail("Database %q has no spec.backup (no object store to write to)", db.Name)
	}
	key, err := r.apiKey(ctx, db)
	if err != nil {
		return ctrl.Result{}, err
	}
	if bk.Status.Phase == "" || bk.Status.Phase == dbv1.BackupPending {
		bk.Status.Phase = dbv1.BackupPending
		if key == "" {
			// The Database's credentials are not there yet.
			return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
		}
		var run backup.Run
		status, err := r.call(ctx, http.MethodPost, db, "/admin/backups", key, &run)
		if err != nil {
			logf.FromContext(ctx).Info("the dbserver could not be asked to take a backup; retrying", "error", err.Error())
			*note = "the dbserver could not be reached (retrying): " + err.Error()
			return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
		}
		if status == http.StatusConflict && strings.Contains(run.Error, "already running") {
			return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
		}
		if status != http.StatusAccepted {
			return fail("the dbserver refused the backup (HTTP %d): %s", status, run.Error)
		}
		store := db.Spec.Backup.ObjectStore
		bk.Status.Phase, bk.Status.BackupID, bk.Status.Key, bk.Status.ObjectStore = dbv1.BackupRunning, run.ID, run.Key, store.DeepCopy()
		bk.Status.StartedAt = &metav1.Time{Time: run.Started}
		return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
	}
	var run backup.Run
	status, err := r.call(ctx, http.MethodGet, db, "/admin/backups/"+bk.Status.BackupID, key, &run)
	if err != nil {
		*note = "the dbserver could not be reached (retrying): " + err.Error()
		return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
	}
	switch {
	case status == http.StatusNotFound:
		return fail("the dbserver no longer knows backup %s (it restarted while the backup ran)", bk.Status.BackupID)
	case status != http.StatusOK:
		return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
	case run.Phase == backup.PhaseRunning:
		return ctrl.Result{RequeueAfter: r.opts.PollInterval}, nil
	case run.Phase == backup.PhaseFailed:
		return fail("%s", run.Error)
	}
	bk.Status.Phase, bk.Status.Size, bk.Status.Documents, bk.Status.Key = dbv1.BackupCompleted, run.Size, run.Documents, run.Key
	if run.Ended != nil {
		bk.Status.CompletedAt = &metav1.Time{Time: *run.Ended}
	}
	bk.Status.Error = ""
	if run.Error != "" {
		bk.Status.Error = run.Error // a retention failure after a good backup
	}
	return ctrl.Result{}, nil
}

// apiKey reads the Database's full-access key; "" while its Secret does not exist yet.
func (r *DatabaseBackupReconciler) apiKey(ctx context.Context, db *dbv1.Database) (string, error) {
	name, key := db.CredentialsSecretName(), keyAPIKey
	if k := db.Spec.APIKeys; k != nil && k.SecretRef != nil {
		name, key = k.SecretRef.Name, k.SecretRef.Key
	}
	s := &corev1.Secret{}
	err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: db.Namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("while reading the API key of %q: %w", db.Name, err)
	}
	return strings.TrimSpace(string(s.Data[key])), nil
}

// call sends one admin request and decodes the answer (or the error body's message into
// out's Error) into out.
func (r *DatabaseBackupReconciler) call(ctx context.Context, method string, db *dbv1.Database, path, key string, out *backup.Run) (int, error) {
	base, err := r.endpoint(ctx, db)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Apikey", key)
	res, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		out.Error = e.Message
		return res.StatusCode, nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return 0, fmt.Errorf("%s %s: the answer is not a backup run: %w", method, path, err)
	}
	return res.StatusCode, nil
}

// endpoint is the base URL the operator reaches db's dbserver at: its Service's cluster IP,
// which needs no cluster DNS, or the Service's DNS name while it has no IP (headless, or not
// created yet).
func (r *DatabaseBackupReconciler) endpoint(ctx context.Context, db *dbv1.Database) (string, error) {
	if r.opts.Endpoint != nil {
		return r.opts.Endpoint(db), nil
	}
	svc := &corev1.Service{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.Name}, svc)
	switch {
	case apierrors.IsNotFound(err):
		return endpointFor(db), nil
	case err != nil:
		return "", fmt.Errorf("while reading the Service of Database %q: %w", db.Name, err)
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return endpointFor(db), nil
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(servicePort)), nil
}

// setBackupConditions derives the kstatus conditions from the phase; note, when set, says why
// a pending or running backup is not making progress.
func setBackupConditions(bk *dbv1.DatabaseBackup, note string) {
	set := func(typ string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&bk.Status.Conditions, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: bk.Generation})
	}
	bk.Status.ObservedGeneration = bk.Generation
	switch bk.Status.Phase {
	case dbv1.BackupCompleted:
		msg := fmt.Sprintf("backed up to %s", bk.Status.Key)
		set(dbv1.ConditionReady, metav1.ConditionTrue, ReasonBackupCompleted, msg)
		set(dbv1.ConditionReconciling, metav1.ConditionFalse, ReasonBackupCompleted, msg)
		set(dbv1.ConditionStalled, metav1.ConditionFalse, ReasonBackupCompleted, msg)
	case dbv1.BackupFailed:
		set(dbv1.ConditionReady, metav1.ConditionFalse, ReasonBackupFailed, bk.Status.Error)
		set(dbv1.ConditionReconciling, metav1.ConditionFalse, ReasonBackupFailed, "failed: see the Stalled condition")
		set(dbv1.ConditionStalled, metav1.ConditionTrue, ReasonBackupFailed, bk.Status.Error)
	default:
		reason, msg := ReasonBackupPending, "waiting for the Database to be ready"
		if bk.Status.Phase == dbv1.BackupRunning {
			reason, msg = ReasonBackupRunning, "the dbserver is writing the backup"
		}
		if note != "" {
			msg = note
		}
		set(dbv1.ConditionReady, metav1.ConditionFalse, reason, msg)
		set(dbv1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
		set(dbv1.ConditionStalled, metav1.ConditionFalse, reason, msg)
	}
}
