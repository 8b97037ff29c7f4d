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
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// secretRefIndex indexes Databases by the names of the Secrets they reference, so a Secret
// event finds its Databases without listing them all.
const secretRefIndex = ".spec.secretRefs"

// defaultSecretRetryInterval is how often a Database waiting for a missing Secret looks again.
// A Secret created with WatchLabel is seen at once; one created without it, at the next retry.
const defaultSecretRetryInterval = 30 * time.Second

// Options configure the reconciler and the objects it builds.
type Options struct {
	// DefaultImage is the dbserver image used when a Database sets no spec.image.
	DefaultImage string
	// SecretRetryInterval is how often a Database stalled on a missing Secret is retried
	// (default 30s).
	SecretRetryInterval time.Duration
	// Random is the source of generated keys (default crypto/rand).
	Random io.Reader
}

// DatabaseReconciler keeps, for each Database, its Secrets, claim, Deployment and Service in
// line with its spec, and reports progress in its status.
type DatabaseReconciler struct {
	client    client.Client
	apiReader client.Reader
	recorder  events.EventRecorder
	opts      Options
}

// NewDatabaseReconciler returns a reconciler that reads through c (the manager's cache), falls
// back to apiReader for Secrets the cache does not hold, and records events with recorder.
func NewDatabaseReconciler(c client.Client, apiReader client.Reader, recorder events.EventRecorder, opts Options) *DatabaseReconciler {
	if opts.SecretRetryInterval <= 0 {
		opts.SecretRetryInterval = defaultSecretRetryInterval
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	return &DatabaseReconciler{client: c, apiReader: apiReader, recorder: recorder, opts: opts}
}

// The operator's permissions, least privilege: it never deletes (owner references let the
// garbage collector do that), never updates whole objects (server-side apply is a patch), and
// reads Secrets cluster-wide only to watch the labelled ones (RBAC cannot filter by label).
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases,verbs=get;list;watch
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases/status,verbs=get;patch
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;services;persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list

// SetupWithManager registers the index on referenced Secrets and the controller's watches.
func (r *DatabaseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &dbv1.Database{}, secretRefIndex,
		func(o client.Object) []string { return o.(*dbv1.Database).ReferencedSecretNames() })
	if err != nil {
		return fmt.Errorf("while indexing Databases by referenced Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.Database{}).
		Owns(&corev1.Secret{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		// Under Retain the claim has no owner reference: map it back by its instance label.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(databaseForClaim)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.databasesForSecret)).
		Named("database").
		Complete(r)
}

// Reconcile brings one Database's objects in line with its spec and writes its status.
func (r *DatabaseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	db := &dbv1.Database{}
	if err := r.client.Get(ctx, req.NamespacedName, db); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !db.DeletionTimestamp.IsZero() {
		// Owned objects go with the Database through their owner references; the claim has one
		// only under deletionPolicy Delete. Nothing else to do, so no finalizer.
		return ctrl.Result{}, nil
	}

	obs, err := r.reconcileObjects(ctx, db)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.updateStatus(ctx, db, obs); err != nil {
		return ctrl.Result{}, err
	}
	if obs.stall != nil && (obs.stall.Reason == ReasonSecretNotFound || isBackupStall(obs.stall)) {
		return ctrl.Result{RequeueAfter: r.opts.SecretRetryInterval}, nil
	}
	return ctrl.Result{}, nil
}

// reconcileObjects applies every owned object. A missing Secret or image holds back the
// settings and the Deployment, which depend on them; the other objects are still kept.
func (r *DatabaseReconciler) reconcileObjects(ctx context.Context, db *dbv1.Database) (observation, error) {
	var obs observation
	values, blocked, err := r.readSecretRefs(ctx, db)
	if err != nil {
		return obs, err
	}
	if blocked == nil && imageFor(db, r.opts) == "" {
		blocked = &stall{Reason: ReasonNoImage, Message: "no dbserver image: set spec.image or start the operator with --dbserver-image"}
	}
	obs.stall = blocked

	if err := r.reconcileCredentials(ctx, db); err != nil {
		return obs, err
	}
	claimStall, err := r.reconcileClaim(ctx, db)
	if err != nil {
		return obs, err
	}
	if obs.stall == nil {
		obs.stall = claimStall
	}
	if err := r.apply(ctx, serviceFor(db)); err != nil {
		return obs, err
	}
	if blocked != nil {
		return obs, nil
	}
	settingsSecret, err := settingsSecretFor(db, values)
	if err != nil {
		return obs, err
	}
	if err := r.apply(ctx, settingsSecret); err != nil {
		return obs, err
	}
	restore, restoreStall, err := r.resolveRestore(ctx, db)
	if err != nil || restoreStall != nil {
		obs.stall = restoreStall
		return obs, err
	}
	dep := deploymentFor(db, r.opts)
	addRestore(dep, restore)
	if restore != nil {
		if obs.stall, err = r.restoreFailure(ctx, db); err != nil {
			return obs, err
		}
	}
	if err := r.apply(ctx, dep); err != nil {
		return obs, err
	}
	obs.deployment = dep
	return obs, nil
}

// readSecretRefs reads every Secret key the spec names. A missing Secret or key is not an error
// but a stall naming it: retrying cannot help until someone creates it.
func (r *DatabaseReconciler) readSecretRefs(ctx context.Context, db *dbv1.Database) (secretValues, *stall, error) {
	secrets := map[string]*corev1.Secret{}
	for _, name := range db.ReferencedSecretNames() {
		s, err := r.referencedSecret(ctx, db.Namespace, name)
		if err != nil {
			return nil, nil, err
		}
		secrets[name] = s
	}
	values := secretValues{}
	for _, ref := range db.SecretRefs() {
		s := secrets[ref.Ref.Name]
		if s == nil {
			return nil, &stall{Reason: ReasonSecretNotFound, Message: fmt.Sprintf(
				"Secret %q (%s) not found in namespace %q; label it %s=true to have it picked up at once",
				ref.Ref.Name, ref.Field, db.Namespace, WatchLabel)}, nil
		}
		v := s.Data[ref.Ref.Key]
		if len(v) == 0 {
			return nil, &stall{Reason: ReasonSecretKeyNotFound, Message: fmt.Sprintf(
				"Secret %q has no key %q, or it is empty (%s)", ref.Ref.Name, ref.Ref.Key, ref.Field)}, nil
		}
		values[ref.Ref] = v
	}
	return values, nil, nil
}

// referencedSecret returns the user Secret ns/name, or nil when it does not exist. The cache
// holds only labelled Secrets, so a miss is confirmed with one uncached read; a Secret found that
// way is labelled, so that its later changes arrive through the watch.
func (r *DatabaseReconciler) referencedSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	s := &corev1.Secret{}
	found, err := r.getFresh(ctx, key, s)
	if err != nil || !found {
		return nil, err
	}
	if s.Labels[WatchLabel] == "true" {
		return s, nil
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[WatchLabel] = "true"
	if err := r.client.Patch(ctx, s, patch, client.FieldOwner(FieldOwner)); err != nil {
		return nil, fmt.Errorf("while labelling Secret %q so it is watched: %w", name, err)
	}
	logf.FromContext(ctx).Info("labelled a referenced Secret so the operator watches it", "secret", name, "label", WatchLabel)
	return s, nil
}

// reconcileCredentials creates <name>-credentials once. Afterwards it only adds keys that are
// missing and restores labels and owner reference; an existing value is never replaced.
func (r *DatabaseReconciler) reconcileCredentials(ctx context.Context, db *dbv1.Database) error {
	existing := &corev1.Secret{}
	found, err := r.getFresh(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.CredentialsSecretName()}, existing)
	if err != nil {
		return err
	}
	if !found {
		desired, err := credentialsSecretFor(db, nil, r.opts.Random)
		if err != nil {
			return err
		}
		// Create, not apply: it fails if the Secret appeared meanwhile, where an apply would
		// overwrite the keys in it.
		if err := r.client.Create(ctx, desired, client.FieldOwner(FieldOwner)); err != nil {
			return fmt.Errorf("while creating Secret %q: %w", desired.Name, err)
		}
		return nil
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

// reconcileClaim applies <name>-data, adopting a claim left by an earlier Database of the same
// name. A change the API server refuses (a resize the StorageClass does not allow) is a stall.
func (r *DatabaseReconciler) reconcileClaim(ctx context.Context, db *dbv1.Database) (*stall, error) {
	existing := &corev1.PersistentVolumeClaim{}
	found, err := r.getFresh(ctx, types.NamespacedName{Namespace: db.Namespace, Name: db.DataClaimName()}, existing)
	if err != nil {
		return nil, err
	}
	var cur *corev1.PersistentVolumeClaim
	if found {
		cur = existing
	}
	desired := pvcFor(db, cur)
	if err := r.apply(ctx, desired); err != nil {
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
	return nil, nil
}

// getFresh reads key into obj from the cache, confirming a miss with an uncached read: the
// cache holds only labelled objects, and may lag behind a create.
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

// apply server-side applies obj under FieldOwner, taking ownership of the fields it sets, and
// writes the server's answer (including status) back into obj.
func (r *DatabaseReconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := applyConfiguration(obj)
	if err != nil {
		return err
	}
	if err := r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("while applying %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return fmt.Errorf("while reading back %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// applyConfiguration turns a typed object into an apply request: status and null fields are
// dropped, so the request names only the fields the operator means to own.
func applyConfiguration(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("while converting %T %q: %w", obj, obj.GetName(), err)
	}
	delete(m, "status")
	pruneNulls(m)
	return &unstructured.Unstructured{Object: m}, nil
}

// pruneNulls removes null values (such as creationTimestamp) from m, recursively.
func pruneNulls(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneNulls(t)
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					pruneNulls(em)
				}
			}
		}
	}
}

// updateStatus writes the status decided from obs, when it changed, and records an event when
// the Ready condition moved.
func (r *DatabaseReconciler) updateStatus(ctx context.Context, db *dbv1.Database, obs observation) error {
	st := statusFor(db, obs)
	if equality.Semantic.DeepEqual(st, db.Status) {
		return nil
	}
	t := transitionFor(db.Status.Conditions, st.Conditions)
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		return fmt.Errorf("while converting the status of %q: %w", db.Name, err)
	}
	pruneNulls(status)
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetAPIVersion(dbv1.GroupVersion.String())
	u.SetKind("Database")
	u.SetNamespace(db.Namespace)
	u.SetName(db.Name)
	// Apply as well: the conditions list is keyed by type, so the operator owns exactly the
	// three conditions it writes and leaves any other controller's alone.
	if err := r.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("while writing the status of %q: %w", db.Name, err)
	}
	if t != nil {
		r.recorder.Eventf(db, nil, t.Type, t.Reason, "Reconcile", "%s", t.Message)
	}
	return nil
}

// databasesForSecret maps a Secret to the Databases in its namespace that reference it.
func (r *DatabaseReconciler) databasesForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list dbv1.DatabaseList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "while listing Databases that reference a Secret", "secret", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, db := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: db.Namespace, Name: db.Name}})
	}
	return reqs
}

// databaseForClaim maps a claim the operator made to its Database, by the instance label.
func databaseForClaim(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[labelManagedBy] != managedBy || l[labelName] != appName || l[labelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[labelInstance]}}}
}
