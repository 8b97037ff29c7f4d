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
	"errors"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
)

// This file keeps the objects a Database owns: each reconcileX reads what exists (from a cache),
// asks the pure builder for the desired object, and writes only when they differ.

// reconcileCredentials creates <name>-credentials once. Afterwards it only adds keys that are
// missing and restores labels and owner reference; an existing value is never replaced.
func (r *DatabaseReconciler) reconcileCredentials(ctx context.Context, db *dbv1.Database) error {
	key := types.NamespacedName{Namespace: db.Namespace, Name: db.CredentialsSecretName()}
	existing := &corev1.Secret{}
	err := r.ownedSecrets.Get(ctx, key, existing)
	if apierrors.IsNotFound(err) {
		desired, err := credentialsSecretFor(db, nil, r.opts.Random)
		if err != nil {
			return err
		}
		// Create, not apply: it fails if the Secret exists (the cache may lag, or a user made
		// it without the operator's labels), where an apply would overwrite the keys in it.
		err = r.client.Create(ctx, desired, client.FieldOwner(FieldOwner))
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("while creating Secret %q: %w", desired.Name, err)
		}
		if err := r.apiReader.Get(ctx, key, existing); err != nil {
			return fmt.Errorf("while reading Secret %q: %w", key.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("while reading Secret %q: %w", key.Name, err)
	}
	if credentialsComplete(db, existing) {
		return nil
	}
	if c := metav1.GetControllerOf(existing); c != nil && c.UID != db.UID {
		// Left by a deleted Database of the same name; the garbage collector is removing it,
		// and its deletion brings this Database back here to create fresh keys.
		return fmt.Errorf("secret %q still belongs to a deleted Database (uid %s); waiting for the garbage collector", existing.Name, c.UID)
	}
	desired, err := credentialsSecretFor(db, existing, r.opts.Random)
	if err != nil {
		return err
	}
	// desired carries existing's resourceVersion: a concurrent rotation makes this fail and retry.
	return r.apply(ctx, desired)
}

// reconcileClaim keeps <name>-data, adopting a claim left by an earlier Database of the same
// name, and records the size the claim requests in obs. A change the API server refuses (a
// resize the StorageClass does not allow) is a stall.
func (r *DatabaseReconciler) reconcileClaim(ctx context.Context, db *dbv1.Database, obs *observation) (*stall, error) {
	existing := &corev1.PersistentVolumeClaim{}
	found, err := r.getFresh(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.DataClaimName()}, existing)
	if err != nil {
		return nil, err
	}
	var cur *corev1.PersistentVolumeClaim
	if found {
		cur = existing
		if q, ok := existing.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			obs.claimSize = &q
		}
	}
	desired := pvcFor(db, cur)
	if err := r.applyIfChanged(ctx, desired, orNil(found, existing)); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			msg := err.Error()
			var status apierrors.APIStatus
			if errors.As(err, &status) {
				msg = status.Status().Message
			}
			return &stall{Reason: ReasonStorageRejected, Message: fmt.Sprintf(
				"PersistentVolumeClaim %q refused the change: %s", desired.Name, msg)}, nil
		}
		return nil, err
	}
	if q, ok := desired.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		obs.claimSize = &q
	}
	return nil, nil
}

// reconcileService keeps the Service <name>.
func (r *DatabaseReconciler) reconcileService(ctx context.Context, db *dbv1.Database) error {
	existing := &corev1.Service{}
	found, err := r.getCached(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.Name}, existing)
	if err != nil {
		return err
	}
	return r.applyIfChanged(ctx, serviceFor(db), orNil(found, existing))
}

// reconcileSettings writes <name>-settings from settings already validated by renderSettings.
func (r *DatabaseReconciler) reconcileSettings(ctx context.Context, db *dbv1.Database, s settings.Settings) error {
	desired, err := settingsSecretFor(db, s)
	if err != nil {
		return err
	}
	existing := &corev1.Secret{}
	err = r.ownedSecrets.Get(ctx, types.NamespacedName{Namespace: db.Namespace, Name: desired.Name}, existing)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("while reading Secret %q: %w", desired.Name, err)
	}
	return r.applyIfChanged(ctx, desired, orNil(err == nil, existing))
}

// reconcileDeployment keeps the Deployment <name> and returns it as the server has it, status
// included.
func (r *DatabaseReconciler) reconcileDeployment(ctx context.Context, db *dbv1.Database, restore *restoreSource) (*appsv1.Deployment, error) {
	existing := &appsv1.Deployment{}
	found, err := r.getCached(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.Name}, existing)
	if err != nil {
		return nil, err
	}
	desired := deploymentFor(db, r.opts)
	addRestore(desired, restore)
	if err := r.applyIfChanged(ctx, desired, orNil(found, existing)); err != nil {
		return nil, err
	}
	return desired, nil
}

// renderSettings renders db's settings.json and checks it with the dbserver's own rules
// (settings.Validate): the dbserver refuses a file that fails them, so writing one would only
// make a new pod fail to start. A failure is a stall that names the spec field.
func renderSettings(db *dbv1.Database, values secretValues) (settings.Settings, *stall) {
	s := settingsFor(db, values)
	if err := s.Validate(); err != nil {
		return s, &stall{Reason: ReasonInvalidSettings, Message: invalidSettingsMessage(err)}
	}
	return s, nil
}

// webKeyValueField matches a web key's value in a settings error, which comes from the Secret
// its secretRef names rather than from the spec.
var webKeyValueField = regexp.MustCompile(`^apiKeys\.web\[(\d+)\]\.key:`)

// invalidSettingsMessage turns settings.Validate's errors (one per line, each starting with its
// settings.json field) into one line naming the spec fields: the spec mirrors settings.json, in
// the same order, so collections[0].name is spec.collections[0].name.
func invalidSettingsMessage(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if m := webKeyValueField.FindStringSubmatch(l); m != nil {
			lines[i] = "spec.apiKeys.web[" + m[1] + "].secretRef (the Secret's value):" + strings.TrimPrefix(l, m[0])
			continue
		}
		lines[i] = "spec." + l
	}
	return "the dbserver would refuse these settings, so the running dbserver keeps its last good ones: " +
		strings.Join(lines, "; ")
}

// getCached reads key into obj from the manager's cache; found is false when it is not there.
func (r *DatabaseReconciler) getCached(ctx context.Context, key types.NamespacedName, obj client.Object) (bool, error) {
	err := r.client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("while reading %T %s: %w", obj, key, err)
	}
	return true, nil
}

// getFresh reads key into obj from the cache, confirming a miss with an uncached read: the
// cache may lag behind a create, and a desired claim depends on the existing one.
func (r *DatabaseReconciler) getFresh(ctx context.Context, key types.NamespacedName, obj client.Object) (bool, error) {
	err := r.client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.apiReader.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("while reading %T %s: %w", obj, key, err)
	}
	return true, nil
}

// orNil returns obj when found, else nil (typed nil would not compare equal to nil).
func orNil[T client.Object](found bool, obj T) client.Object {
	if !found {
		return nil
	}
	return obj
}
