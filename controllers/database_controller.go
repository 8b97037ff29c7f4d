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
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
)

// EventSource is the name the operator's events carry as their reporting controller.
const EventSource = "restkube-operator"

// defaultSecretRetryInterval is how often a Database waiting for a missing Secret looks again.
// Every Secret's creation reaches the operator through its metadata watch, so this is only a
// safety net.
const defaultSecretRetryInterval = 5 * time.Minute

// DefaultMaxConcurrentReconciles is the number of Databases reconciled at once. A reconcile
// spends most of its time waiting for the API server, so a few workers per core pay off; more
// than this gained nothing in `make bench-operator` (see the README's scale section).
const DefaultMaxConcurrentReconciles = 8

// Options configure the reconciler and the objects it builds.
type Options struct {
	// DefaultImage is the dbserver image used when a Database sets no spec.image.
	DefaultImage string
	// SecretRetryInterval is how often a Database stalled on a missing Secret is retried
	// (default 5m; the watch normally notices the Secret first).
	SecretRetryInterval time.Duration
	// MaxConcurrentReconciles is the number of reconcile workers (default
	// DefaultMaxConcurrentReconciles).
	MaxConcurrentReconciles int
	// Random is the source of generated keys (default crypto/rand).
	Random io.Reader
}

// DatabaseReconciler keeps, for each Database, its Secrets, claim, Deployment and Service in
// line with its spec, and reports progress in its status.
type DatabaseReconciler struct {
	// client reads Databases, Deployments, Services and claims from the manager's cache and
	// writes everything; it never caches Secrets (see ClientOptions).
	client client.Client
	// apiReader reads from the API server: the user Secrets a Database references, and
	// objects the caches have not seen yet.
	apiReader client.Reader
	// ownedSecrets caches the Secrets the operator owns, with their data.
	ownedSecrets ownedSecretCache
	// secretMeta reads the metadata of every Secret from the manager's cache (the client
	// bypasses its cache for Secrets); refSecrets keeps the data of referenced ones by version.
	secretMeta client.Reader
	refSecrets *refSecretCache
	recorder   events.EventRecorder
	opts       Options
}

// NewDatabaseReconciler returns a reconciler working through mgr's client and caches. It adds
// to mgr the cache of the Secrets the operator owns.
func NewDatabaseReconciler(mgr ctrl.Manager, opts Options) (*DatabaseReconciler, error) {
	if opts.SecretRetryInterval <= 0 {
		opts.SecretRetryInterval = defaultSecretRetryInterval
	}
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	owned, err := newOwnedSecretCache(mgr)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(owned); err != nil {
		return nil, fmt.Errorf("while adding the cache of owned Secrets: %w", err)
	}
	return &DatabaseReconciler{
		client:       mgr.GetClient(),
		apiReader:    mgr.GetAPIReader(),
		ownedSecrets: owned,
		secretMeta:   mgr.GetCache(),
		refSecrets:   &refSecretCache{},
		recorder:     mgr.GetEventRecorder(EventSource),
		opts:         opts,
	}, nil
}

// The operator's permissions, least privilege: it deletes nothing it builds for a Database
// (owner references let the garbage collector do that; its one deletion is the pruning of
// scheduled DatabaseBackups, in backup_controller.go), never updates whole objects (server-side apply is a patch), and
// lists and watches Secrets cluster-wide for their metadata, so that a referenced Secret is seen
// whatever its labels (RBAC cannot grant metadata without data).
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases,verbs=get;list;watch
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases/status,verbs=get;patch
// +kubebuilder:rbac:groups=db.restkube.dev,resources=databases/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;services;persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list

// SetupWithManager registers the index on referenced Secrets and the controller's watches.
func (r *DatabaseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexSecretRefs(mgr); err != nil {
		return err
	}
	ownedSecret := handler.TypedEnqueueRequestForOwner[*corev1.Secret](mgr.GetScheme(), mgr.GetRESTMapper(),
		&dbv1.Database{}, handler.OnlyControllerOwner())
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes do not move the generation: the operator's own status patch does not
		// bring the Database back.
		For(&dbv1.Database{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}, builder.WithPredicates(ownedObjectChanged)).
		Owns(&corev1.Service{}, builder.WithPredicates(ownedObjectChanged)).
		// Under Retain the claim has no owner reference: map it back by its instance label.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(databaseForClaim),
			builder.WithPredicates(ownedObjectChanged)).
		// Owned Secrets come from the cache that holds their data, so a reconcile they trigger
		// reads them at least as new as the event.
		WatchesRawSource(source.Kind(r.ownedSecrets, &corev1.Secret{}, ownedSecret, ownedSecretChanged)).
		// Every Secret of the cluster, by metadata: a referenced one brings its Databases back.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.databasesForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.MaxConcurrentReconciles}).
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

// reconcileObjects keeps every owned object. What blocks the pod — a missing Secret or image,
// settings the dbserver would refuse — holds back the settings and the Deployment, so the
// running dbserver keeps its last good settings; the other objects are still kept.
func (r *DatabaseReconciler) reconcileObjects(ctx context.Context, db *dbv1.Database) (observation, error) {
	var obs observation
	values, blocked, err := r.readSecretRefs(ctx, db)
	if err != nil {
		return obs, err
	}
	if blocked == nil && imageFor(db, r.opts) == "" {
		blocked = &stall{Reason: ReasonNoImage, Message: "no dbserver image: set spec.image or start the operator with --dbserver-image"}
	}
	var rendered settings.Settings
	if blocked == nil {
		rendered, blocked = renderSettings(db, values)
	}
	obs.stall = blocked

	if err := r.reconcileCredentials(ctx, db); err != nil {
		return obs, err
	}
	claimStall, err := r.reconcileClaim(ctx, db, &obs)
	if err != nil {
		return obs, err
	}
	if obs.stall == nil {
		obs.stall = claimStall
	}
	if err := r.reconcileService(ctx, db); err != nil {
		return obs, err
	}
	if blocked != nil {
		return obs, nil
	}
	if err := r.reconcileSettings(ctx, db, rendered); err != nil {
		return obs, err
	}
	restore, restoreStall, err := r.resolveRestore(ctx, db)
	if err != nil || restoreStall != nil {
		obs.stall = restoreStall
		return obs, err
	}
	dep, err := r.reconcileDeployment(ctx, db, restore)
	if err != nil {
		return obs, err
	}
	if restore != nil {
		if obs.stall, err = r.restoreFailure(ctx, db); err != nil {
			return obs, err
		}
	}
	obs.deployment = dep
	return obs, nil
}
