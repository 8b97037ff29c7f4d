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
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// This file handles the user Secrets a Database references (apiKeys, web keys, the Auth0 client
// secret): the operator neither owns nor labels them. Their metadata comes through a watch on
// every Secret, a field index maps a Secret's name to the Databases that name it, and their data
// is read by name when a reconcile needs it and the copy last read is not of the Secret's
// current resourceVersion.

// secretRefIndex indexes Databases by the names of the Secrets they reference, so a Secret
// event finds its Databases without listing them all.
const secretRefIndex = ".spec.secretRefs"

// indexSecretRefs registers secretRefIndex with mgr's cache.
func indexSecretRefs(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &dbv1.Database{}, secretRefIndex,
		func(o client.Object) []string { return o.(*dbv1.Database).ReferencedSecretNames() })
	if err != nil {
		return fmt.Errorf("while indexing Databases by referenced Secret: %w", err)
	}
	return nil
}

// readSecretRefs reads every Secret key the spec names. A missing Secret or key is not an error
// but a stall naming it: retrying cannot help until someone creates it, and its creation brings
// the Database back through the watch.
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
				"Secret %q (%s) not found in namespace %q; the Database resumes as soon as it is created",
				ref.Ref.Name, ref.Field, db.Namespace)}, nil
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

// referencedSecret returns the user Secret ns/name, or nil when it does not exist. Its data is
// read from the API server by name, and kept only while the Secret's resourceVersion in the
// metadata cache says it has not changed since: caching the data of every Secret would mean
// caching the cluster's, but a Secret shared by a thousand Databases is then read once per
// change, not once per Database.
func (r *DatabaseReconciler) referencedSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.secretMeta.Get(ctx, key, meta); err == nil {
		if s := r.refSecrets.get(key, meta.ResourceVersion); s != nil {
			return s, nil
		}
	}
	// Not in the metadata cache (it may lag a creation), or changed: read it.
	s := &corev1.Secret{}
	err := r.apiReader.Get(ctx, key, s)
	if apierrors.IsNotFound(err) {
		r.refSecrets.forget(key)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("while reading Secret %q: %w", name, err)
	}
	r.refSecrets.put(key, s)
	return s, nil
}

// maxRefSecretBytes bounds the data the referenced-Secret cache holds; past it the cache starts
// over, so a cluster with many large referenced Secrets costs reads, not memory.
const maxRefSecretBytes = 16 << 20

// refSecretCache holds the user Secrets Databases reference, as last read, each valid for the
// resourceVersion it was read at. Callers must not modify what get returns.
type refSecretCache struct {
	mu      sync.Mutex
	secrets map[types.NamespacedName]*corev1.Secret
	bytes   int
}

func (c *refSecretCache) get(key types.NamespacedName, resourceVersion string) *corev1.Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.secrets[key]; s != nil && s.ResourceVersion == resourceVersion {
		return s
	}
	return nil
}

func (c *refSecretCache) put(key types.NamespacedName, s *corev1.Secret) {
	size := secretDataSize(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(key)
	if c.secrets == nil || c.bytes+size > maxRefSecretBytes {
		c.secrets, c.bytes = map[types.NamespacedName]*corev1.Secret{}, 0
	}
	if size > maxRefSecretBytes {
		return
	}
	// Only what a reconcile reads: the data and the resourceVersion it belongs to.
	c.secrets[key] = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, ResourceVersion: s.ResourceVersion},
		Data:       s.Data,
	}
	c.bytes += size
}

func (c *refSecretCache) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(key)
}

func (c *refSecretCache) forgetLocked(key types.NamespacedName) {
	if old := c.secrets[key]; old != nil {
		c.bytes -= secretDataSize(old)
		delete(c.secrets, key)
	}
}

func secretDataSize(s *corev1.Secret) int {
	n := 0
	for k, v := range s.Data {
		n += len(k) + len(v)
	}
	return n
}

// databasesForSecret maps a Secret (its metadata) to the Databases in its namespace that
// reference it.
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
