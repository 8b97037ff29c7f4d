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
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Owned objects are created with POST: the API server spends about a third of the CPU on a
// create that it spends on an apply creating the same object (an apply body is parsed as YAML
// and merged field by field). A create records its fields in managedFields under FieldOwner
// with operation Update, not Apply, and an apply does not remove a field that an Update entry
// also owns. So before the first apply that changes such an object, the Update entry is turned
// into an Apply entry (convertCreateEntry); from then on the object is the apply path's like
// any other.

// createOrApply creates the object the apply request u describes and decodes the server's answer
// into obj. When it exists after all (the cache had not seen it yet, or someone else made it),
// it is applied instead, after converting any create of ours in its managedFields.
//
// The create sends a typed object, not u itself: for the built-in kinds the client then speaks
// protobuf, which the API server decodes and answers in a fraction of the CPU that the same
// object costs it as JSON (measured with make bench-operator).
func (r *DatabaseReconciler) createOrApply(ctx context.Context, u *unstructured.Unstructured, obj client.Object) error {
	created := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, created); err != nil {
		return fmt.Errorf("while converting %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	err := r.client.Create(ctx, created, client.FieldOwner(FieldOwner))
	if err == nil {
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(created).Elem())
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("while creating %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	if err := r.convertCreateEntry(ctx, u); err != nil {
		return err
	}
	return r.applyUnstructured(ctx, u, obj)
}

// convertCreateEntry turns the Update entry a create of ours left in the managedFields of the
// object u names into an Apply entry, so that the next apply removes what it no longer sets. The
// cache keeps no managedFields, so this reads the object from the API server; it runs only
// before an apply that changes an object created with POST, never in a steady state. The patch
// carries the resourceVersion read: if the object changed since, it fails and the reconcile is
// retried.
func (r *DatabaseReconciler) convertCreateEntry(ctx context.Context, u *unstructured.Unstructured) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(u), live); err != nil {
		return fmt.Errorf("while reading %s %q for its managedFields: %w", u.GetKind(), u.GetName(), err)
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(FieldOwner), FieldOwner)
	if err != nil {
		return fmt.Errorf("while converting the managedFields of %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	if patch == nil {
		return nil
	}
	if err := r.client.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("while converting the managedFields of %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// coversCreatedFields reports whether the apply request u sets every field of existing (the
// cached object) that a create of ours could own, so that an apply without converting the
// create's entry leaves nothing behind: the entry owns no more than the create set, which is
// still in the object unless someone removed it. Only Secrets are judged, as they are flat: a
// Service, Deployment or claim holds fields the API server defaulted at the create, which the
// create's entry owns too and an apply never sets, so they are always converted. This spares
// the settings Secret, whose fields stay the same when its content changes (a referenced
// Secret's rotation re-renders every Database's), a read and a patch.
func coversCreatedFields(u *unstructured.Unstructured, existing client.Object) bool {
	s, ok := existing.(*corev1.Secret)
	if !ok {
		return false
	}
	if s.Immutable != nil {
		if _, ok := u.Object["immutable"]; !ok {
			return false
		}
	}
	if s.Type != "" {
		if _, ok := u.Object["type"]; !ok {
			return false
		}
	}
	data, _, _ := unstructured.NestedMap(u.Object, "data")
	ownerUIDs := map[string]bool{}
	for _, ref := range u.GetOwnerReferences() {
		ownerUIDs[string(ref.UID)] = true
	}
	for _, ref := range s.OwnerReferences {
		if !ownerUIDs[string(ref.UID)] {
			return false
		}
	}
	return hasKeysOf(data, s.Data) && hasKeysOf(u.GetLabels(), s.Labels) &&
		hasKeysOf(u.GetAnnotations(), s.Annotations)
}

// hasKeysOf reports whether m holds every key of other.
func hasKeysOf[V, W any](m map[string]V, other map[string]W) bool {
	for k := range other {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// isCreateEntry reports whether e records a write of the operator's other than an apply: its
// creates with POST.
func isCreateEntry(e metav1.ManagedFieldsEntry) bool {
	return e.Manager == FieldOwner && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == ""
}

// createdByOperator reports whether a cached object still carries the Update entry of a create
// of ours (see stripManagedFields).
func createdByOperator(obj client.Object) bool {
	for _, e := range obj.GetManagedFields() {
		if isCreateEntry(e) {
			return true
		}
	}
	return false
}
