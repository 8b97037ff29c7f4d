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
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// BackupOptions configure the DatabaseBackupReconciler.
type BackupOptions struct {
	// HTTPClient reaches the dbservers' admin endpoint; default a client with a 30s timeout.
	HTTPClient *http.Client
	// Endpoint is the base URL of a Database's API; default its Service's cluster IP (so that
	// the operator needs no cluster DNS), or its cluster DNS name while the Service has none.
	Endpoint func(db *dbv1.Database) string
	// PollInterval is how often a running backup is looked at; default 5s.
	PollInterval time.Duration
}

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
	return &DatabaseBackupReconciler{client: c, apiReader: apiReader, opts: opts}
}

// +kubebuilder:rbac:groups=db.restkube.dev,resources=databasebackups,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databasebackups/status,verbs=get;patch;update

// SetupWithManager registers the controller.
func (r *DatabaseBackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&dbv1.DatabaseBackup{}).Named("databasebackup").Complete(r)
}

// Reconcile moves one DatabaseBackup along Pending → Running → Completed or Failed.
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
	res, err := r.step(ctx, bk, &note)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBackupConditions(bk, note)
	if !equalStatus(before, &bk.Status) {
		if err := r.client.Status().Update(ctx, bk); err != nil {
			return ctrl.Result{}, fmt.Errorf("while writing the status of DatabaseBackup %q: %w", bk.Name, err)
		}
	}
	return res, nil
}

func equalStatus(a, b *dbv1.DatabaseBackupStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// step does the next thing for bk and changes its status accordingly.
func (r *DatabaseBackupReconciler) step(ctx context.Context, bk *dbv1.DatabaseBackup, note *string) (ctrl.Result, error) {
	fail := func(format string, args ...any) (ctrl.Result, error) {
		bk.Status.Phase = dbv1.BackupFailed
		bk.Status.Error = fmt.Sprintf(format, args...)
		if bk.Status.CompletedAt == nil {
			now := metav1.Now()
			bk.Status.CompletedAt = &now
		}
		return ctrl.Result{}, nil
	}
	db := &dbv1.Database{}
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
