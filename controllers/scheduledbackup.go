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
	"fmt"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// Labels and annotation of the DatabaseBackups a schedule creates.
const (
	// LabelBackupDatabase names the Database a DatabaseBackup backs up.
	LabelBackupDatabase = "db.restkube.dev/database"
	// LabelScheduled marks a DatabaseBackup a schedule created.
	LabelScheduled = "db.restkube.dev/scheduled"
	// AnnotationScheduleTime is the schedule's time (RFC 3339) a DatabaseBackup was created for.
	AnnotationScheduleTime = "db.restkube.dev/schedule-time"
)

// cronParser reads the five-field cron syntax and descriptors such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ScheduledBackupReconciler creates a DatabaseBackup each time a Database's spec.backup.schedule
// comes due. It keeps no state of its own: the last scheduled time is read back from the
// DatabaseBackups it created, so a restarted operator neither repeats nor skips a backup (a
// missed run is taken once, not once per missed time).
type ScheduledBackupReconciler struct {
	client   client.Client
	recorder events.EventRecorder
	now      func() time.Time
}

// NewScheduledBackupReconciler returns the reconciler of backup schedules; recorder records
// an event on the Database for each DatabaseBackup created (nil: none), now is the clock
// (nil: time.Now).
func NewScheduledBackupReconciler(c client.Client, recorder events.EventRecorder, now func() time.Time) *ScheduledBackupReconciler {
	if now == nil {
		now = time.Now
	}
	if recorder == nil {
		recorder = nopRecorder{}
	}
	return &ScheduledBackupReconciler{client: c, recorder: recorder, now: now}
}

// SetupWithManager registers the controller.
func (r *ScheduledBackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&dbv1.Database{}).Named("scheduledbackup").Complete(r)
}

// Reconcile creates the DatabaseBackup that is due, if any, and wakes up at the next time.
func (r *ScheduledBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	db := &dbv1.Database{}
	if err := r.client.Get(ctx, req.NamespacedName, db); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if db.Spec.Backup == nil || db.Spec.Backup.Schedule == "" || !db.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	sched, err := cronParser.Parse(db.Spec.Backup.Schedule)
	if err != nil {
		// The CRD cannot parse cron; the Database controller's status is not ours to write,
		// so the mistake goes to the log and the schedule waits for a fixed spec.
		logf.FromContext(ctx).Error(err, "spec.backup.schedule is not a cron schedule", "schedule", db.Spec.Backup.Schedule)
		return ctrl.Result{}, nil
	}
	last, err := r.lastScheduled(ctx, db)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.now().UTC()
	due, next := dueTime(sched, last, now)
	if !due.IsZero() {
		if err := r.create(ctx, db, due); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
}

// dueTime returns the latest scheduled time in (last, now], zero if none, and the first after now.
func dueTime(sched cron.Schedule, last, now time.Time) (due, next time.Time) {
	for t := sched.Next(last); !t.After(now); t = sched.Next(t) {
		due = t
	}
	return due, sched.Next(now)
}

// lastScheduled is the newest schedule time among db's scheduled DatabaseBackups, or the
// Database's creation when there is none (a new schedule does not fire at once).
func (r *ScheduledBackupReconciler) lastScheduled(ctx context.Context, db *dbv1.Database) (time.Time, error) {
	var list dbv1.DatabaseBackupList
	if err := r.client.List(ctx, &list, client.InNamespace(db.Namespace), client.MatchingLabels{LabelBackupDatabase: db.Name, LabelScheduled: "true"}); err != nil {
		return time.Time{}, fmt.Errorf("while listing the DatabaseBackups of %q: %w", db.Name, err)
	}
	last := db.CreationTimestamp.UTC()
	for _, b := range list.Items {
		if t, err := time.Parse(time.RFC3339, b.Annotations[AnnotationScheduleTime]); err == nil && t.After(last) {
			last = t
		}
	}
	return last, nil
}

// create makes the DatabaseBackup for the schedule time t; its name is derived from t, so a
// second attempt for the same time finds it there.
func (r *ScheduledBackupReconciler) create(ctx context.Context, db *dbv1.Database, t time.Time) error {
	bk := &dbv1.DatabaseBackup{
		ObjectMeta: metav1.ObjectMeta{
			Name:        db.Name + "-" + strconv.FormatInt(t.Unix(), 10),
			Namespace:   db.Namespace,
			Labels:      map[string]string{LabelBackupDatabase: db.Name, LabelScheduled: "true", labelManagedBy: managedBy},
			Annotations: map[string]string{AnnotationScheduleTime: t.UTC().Format(time.RFC3339)},
		},
		Spec: dbv1.DatabaseBackupSpec{Database: db.Name},
	}
	// No owner reference: a backup must outlive its Database, or it could not restore one.
	err := r.client.Create(ctx, bk, client.FieldOwner(FieldOwner))
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("while creating DatabaseBackup %q: %w", bk.Name, err)
	}
	logf.FromContext(ctx).Info("scheduled backup", "databaseBackup", bk.Name, "scheduleTime", t)
	r.recorder.Eventf(db, bk, corev1.EventTypeNormal, EventBackupScheduled, "Schedule", "created DatabaseBackup %s for the schedule's time %s", bk.Name, t.UTC().Format(time.RFC3339))
	return nil
}
