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
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
)

// restoreCredentialsDir is where the restore init container finds the object store's keys.
const restoreCredentialsDir = "/etc/restkube-restore"

// backupSettingsFor renders spec.backup as settings.json's backup section. The prefix gains
// <namespace>/<name>/ so that Databases sharing a bucket never touch each other's backups.
func backupSettingsFor(db *dbv1.Database) settings.Backup {
	b := db.Spec.Backup
	if b == nil {
		return settings.Backup{}
	}
	out := settings.Backup{
		Database: db.Namespace + "/" + db.Name,
		ObjectStore: &settings.ObjectStore{
			Bucket:    b.ObjectStore.Bucket,
			Prefix:    db.BackupPrefix(),
			Endpoint:  b.ObjectStore.Endpoint,
			Region:    b.ObjectStore.Region,
			PathStyle: b.ObjectStore.PathStyle,
		},
	}
	if r := b.Retention; r != nil {
		if r.KeepLast != nil {
			out.Retention.KeepLast = int(*r.KeepLast)
		}
		if r.MaxAgeDays != nil {
			out.Retention.MaxAgeDays = int(*r.MaxAgeDays)
		}
	}
	return out
}

// objectStoreSources project an object store's keys under the file names the dbserver reads.
func objectStoreSources(o *dbv1.ObjectStoreSpec) []corev1.VolumeProjection {
	one := func(ref dbv1.SecretKeyRef, path string) corev1.VolumeProjection {
		return corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
			Items:                []corev1.KeyToPath{{Key: ref.Key, Path: path}},
		}}
	}
	out := []corev1.VolumeProjection{
		one(o.Credentials.AccessKeyID, settings.BackupAccessKeyFile),
		one(o.Credentials.SecretAccessKey, settings.BackupSecretKeyFile),
	}
	if o.CA != nil {
		out = append(out, one(*o.CA, settings.BackupCAFile))
	}
	return out
}

// restoreSource is the backup a new Database starts with: a store and an object key.
type restoreSource struct {
	store *dbv1.ObjectStoreSpec
	key   string
}

// addRestore adds to dep the init container that restores src into the empty data volume.
// With --if-empty it does nothing once the volume holds a database, so a restarted pod keeps
// its data. A corrupt or missing backup makes it fail: the pod never starts on bad data.
func addRestore(dep *appsv1.Deployment, src *restoreSource) {
	if src == nil {
		return
	}
	main := dep.Spec.Template.Spec.Containers[0]
	args := []string{"restore", "--if-empty", "--data-dir=" + dataDir,
		fmt.Sprintf("--from=s3://%s/%s", src.store.Bucket, src.key),
		"--s3-credentials-dir=" + restoreCredentialsDir}
	if src.store.Endpoint != "" {
		args = append(args, "--s3-endpoint="+src.store.Endpoint)
	}
	if src.store.Region != "" {
		args = append(args, "--s3-region="+src.store.Region)
	}
	if src.store.PathStyle {
		args = append(args, "--s3-path-style="+strconv.FormatBool(true))
	}
	init := corev1.Container{
		Name:            restoreContainer,
		Image:           main.Image,
		Command:         []string{"/dbserver"},
		Args:            args,
		Resources:       *main.Resources.DeepCopy(),
		SecurityContext: main.SecurityContext.DeepCopy(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: dataDir},
			{Name: "restore-credentials", MountPath: restoreCredentialsDir, ReadOnly: true},
			{Name: "tmp", MountPath: "/tmp"},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	spec := &dep.Spec.Template.Spec
	spec.InitContainers = append(spec.InitContainers, init)
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "restore-credentials", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o440), Sources: objectStoreSources(src.store)},
	}})
}

// restoreContainer is the name of the init container that restores a backup.
const restoreContainer = "restore"

// Reasons of a Database whose bootstrap backup cannot be used.
const (
	ReasonBackupNotFound      = "BackupNotFound"
	ReasonBackupNotReady      = "BackupNotCompleted"
	ReasonBackupRestoreFailed = "BackupRestoreFailed"
)

// resolveRestore finds the backup spec.bootstrap.fromBackup names. A DatabaseBackup that does
// not exist, failed, or has not completed is a stall naming it.
func (r *DatabaseReconciler) resolveRestore(ctx context.Context, db *dbv1.Database) (*restoreSource, *stall, error) {
	b := db.Spec.Bootstrap
	if b == nil || b.FromBackup == nil {
		return nil, nil, nil
	}
	fb := b.FromBackup
	if fb.BackupName == "" {
		return &restoreSource{store: fb.ObjectStore, key: fb.Key}, nil, nil
	}
	bk := &dbv1.DatabaseBackup{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: db.Namespace, Name: fb.BackupName}, bk)
	if apierrors.IsNotFound(err) {
		return nil, &stall{Reason: ReasonBackupNotFound, Message: fmt.Sprintf(
			"DatabaseBackup %q (spec.bootstrap.fromBackup.backupName) not found in namespace %q", fb.BackupName, db.Namespace)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("while reading DatabaseBackup %q: %w", fb.BackupName, err)
	}
	if bk.Status.Phase != dbv1.BackupCompleted || bk.Status.ObjectStore == nil || bk.Status.Key == "" {
		msg := fmt.Sprintf("DatabaseBackup %q is %s, not Completed", fb.BackupName, phaseOrPending(bk.Status.Phase))
		if bk.Status.Error != "" {
			msg += ": " + bk.Status.Error
		}
		return nil, &stall{Reason: ReasonBackupNotReady, Message: msg}, nil
	}
	return &restoreSource{store: bk.Status.ObjectStore, key: bk.Status.Key}, nil, nil
}

func phaseOrPending(p dbv1.BackupPhase) dbv1.BackupPhase {
	if p == "" {
		return dbv1.BackupPending
	}
	return p
}

// restoreFailure reports the restore init container's failure (a corrupt or missing object),
// read from the Database's pods, as a stall; nil when none failed.
func (r *DatabaseReconciler) restoreFailure(ctx context.Context, db *dbv1.Database) (*stall, error) {
	var pods corev1.PodList
	if err := r.apiReader.List(ctx, &pods, client.InNamespace(db.Namespace), client.MatchingLabels(selectorLabels(db))); err != nil {
		return nil, fmt.Errorf("while listing the pods of %q: %w", db.Name, err)
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.Name != restoreContainer {
				continue
			}
			for _, st := range []corev1.ContainerState{cs.State, cs.LastTerminationState} {
				if t := st.Terminated; t != nil && t.ExitCode != 0 {
					msg := strings.TrimSpace(t.Message)
					if len(msg) > 1024 {
						msg = msg[:1024]
					}
					return &stall{Reason: ReasonBackupRestoreFailed, Message: fmt.Sprintf(
						"restoring the bootstrap backup failed in pod %s (exit %d): %s", p.Name, t.ExitCode, msg)}, nil
				}
			}
		}
	}
	return nil, nil
}

// isBackupStall reports a stall on the bootstrap backup: retried on a timer, since the
// DatabaseBackup may yet appear or complete, and a failed restore is retried by the kubelet.
func isBackupStall(s *stall) bool {
	switch s.Reason {
	case ReasonBackupNotFound, ReasonBackupNotReady, ReasonBackupRestoreFailed:
		return true
	}
	return false
}
