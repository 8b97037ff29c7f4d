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
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ownedSelector selects the objects the operator made: every one carries the managed-by label.
func ownedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{labelManagedBy: managedBy})
}

// CacheOptions restricts the manager's informers to what the operator needs, so that its memory
// follows the number of Databases, not the size of the cluster:
//   - Secrets: metadata only (PartialObjectMetadata), and of that only namespace, name, uid and
//     resourceVersion. This informer sees every Secret of the cluster, labelled or not, so a
//     Secret a Database references is noticed the moment it is created, changed or deleted;
//     its data is read by name, uncached, when a reconcile needs it. The data of the Secrets the
//     operator owns lives in a second, label-filtered cache (see newOwnedSecretCache).
//   - Deployments, Services, PersistentVolumeClaims: only those labelled
//     app.kubernetes.io/managed-by=restkube-operator.
//
// managedFields are stripped from everything cached, but for a trace of a create of ours (see
// stripManagedFields).
func CacheOptions() cache.Options {
	owned := ownedSelector()
	return cache.Options{
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Transform: secretIdentityOnly},
			&corev1.PersistentVolumeClaim{}: {Label: owned},
			&corev1.Service{}:               {Label: owned},
			&appsv1.Deployment{}:            {Label: owned},
		},
	}
}

// ClientOptions keep Secrets out of the manager client's cache: a typed Secret read through it
// would start an informer holding the data of every Secret in the cluster. The reconciler reads
// owned Secrets from their own cache and user Secrets by name.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// secretIdentityOnly reduces a Secret's cached metadata to what maps it to its Databases. Labels
// and annotations go too: kubectl's last-applied-configuration annotation holds the whole
// Secret, data included.
func secretIdentityOnly(in any) (any, error) {
	if m, ok := in.(*metav1.PartialObjectMetadata); ok {
		m.ObjectMeta = metav1.ObjectMeta{
			Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		}
	}
	return in, nil
}

// stripManagedFields drops the managedFields of a cached object, which would cost memory for
// every owned object, except that an Update entry of the operator's (left by a create with POST)
// is kept as a bare marker, without its fields: the reconciler must convert that entry before it
// next applies the object (see convertCreateEntry), and reads the object afresh only then.
func stripManagedFields(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil || obj.GetManagedFields() == nil {
		// Nothing to strip; setting nil on an object without managedFields trips Kubernetes
		// issue 124337 (controller-runtime's own transform checks the same).
		return in, nil
	}
	var kept []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if isCreateEntry(e) {
			kept = []metav1.ManagedFieldsEntry{{Manager: e.Manager, Operation: e.Operation}}
			break
		}
	}
	obj.SetManagedFields(kept)
	return in, nil
}

// ownedSecretCache is the cache of the Secrets the operator owns (credentials and settings),
// with their data. GetCache makes the manager start it with its own caches, before any
// controller, and wait for it to sync.
type ownedSecretCache struct{ cache.Cache }

// GetCache returns the cache itself.
func (c ownedSecretCache) GetCache() cache.Cache { return c.Cache }

// newOwnedSecretCache returns a cache holding only the Secrets labelled as the operator's. It
// refuses reads of any other type, so nothing else can slip into it.
func newOwnedSecretCache(mgr ctrl.Manager) (ownedSecretCache, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:                  mgr.GetHTTPClient(),
		Scheme:                      mgr.GetScheme(),
		Mapper:                      mgr.GetRESTMapper(),
		DefaultLabelSelector:        ownedSelector(),
		DefaultTransform:            stripManagedFields,
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return ownedSecretCache{}, fmt.Errorf("while creating the cache of owned Secrets: %w", err)
	}
	return ownedSecretCache{c}, nil
}
