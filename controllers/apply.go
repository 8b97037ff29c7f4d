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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Server-side apply plumbing: every change of an owned object is an apply under FieldOwner, and an
// apply that would change nothing is not sent. An object the cache does not hold is created with
// POST instead (create.go), which costs the API server about a third of an apply that creates it.

// AppliedHashAnnotation holds, on each object the operator applies, a hash of the apply request
// it last sent. Comparing a desired object with the cached one cannot see a field the operator
// stopped setting (an apply without it removes it; the cached object still has it); the hash can.
const AppliedHashAnnotation = "db.restkube.dev/applied-hash"

// applyIfChanged applies desired unless existing (the cached object; nil when there is none)
// already carries it: same hash of the apply request, and every field desired sets holds the
// same value in existing (so an edit of an owned field by someone else is put back). Fields the
// API server defaults or other controllers set are extra fields of existing, which the
// comparison ignores. With no existing object, desired is created (createOrApply) from the same
// request an apply would send, so its content and hash are the same either way. On return
// desired holds the object as the server has it.
func (r *DatabaseReconciler) applyIfChanged(ctx context.Context, desired, existing client.Object) error {
	u, err := applyConfiguration(desired)
	if err != nil {
		return err
	}
	if err := stampAppliedHash(u); err != nil {
		return err
	}
	if existing == nil {
		return r.createOrApply(ctx, u, desired)
	}
	if existing.GetAnnotations()[AppliedHashAnnotation] == u.GetAnnotations()[AppliedHashAnnotation] {
		have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(existing)
		if err != nil {
			return fmt.Errorf("while converting %T %q: %w", existing, existing.GetName(), err)
		}
		if carries(have, u.Object) {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(have, desired); err != nil {
				return fmt.Errorf("while reading %T %q: %w", existing, existing.GetName(), err)
			}
			return nil
		}
	}
	if createdByOperator(existing) && !coversCreatedFields(u, existing) {
		if err := r.convertCreateEntry(ctx, u); err != nil {
			return err
		}
	}
	return r.applyUnstructured(ctx, u, desired)
}

// apply server-side applies obj under FieldOwner, taking ownership of the fields it sets, and
// writes the server's answer (including status) back into obj.
func (r *DatabaseReconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := applyConfiguration(obj)
	if err != nil {
		return err
	}
	return r.applyUnstructured(ctx, u, obj)
}

// applyUnstructured sends the apply request u and decodes the answer into obj.
func (r *DatabaseReconciler) applyUnstructured(ctx context.Context, u *unstructured.Unstructured, obj client.Object) error {
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

// stampAppliedHash sets AppliedHashAnnotation on u to the hash of u without it. encoding/json
// sorts map keys, so the same request always hashes the same.
func stampAppliedHash(u *unstructured.Unstructured) error {
	ann := u.GetAnnotations()
	delete(ann, AppliedHashAnnotation)
	u.SetAnnotations(ann)
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return fmt.Errorf("while hashing %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AppliedHashAnnotation] = hex.EncodeToString(sum[:16])
	u.SetAnnotations(ann)
	return nil
}

// carries reports whether have holds every field of want with the same value. Maps may hold
// more keys than want; lists must have want's length, element by element (the API server keeps
// their order). apiVersion and kind are not compared: cached typed objects lack them.
func carries(have, want map[string]any) bool {
	for k, w := range want {
		if k == "apiVersion" || k == "kind" {
			continue
		}
		h, ok := have[k]
		if !ok || !carriesValue(h, w) {
			return false
		}
	}
	return true
}

func carriesValue(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok || !carriesValue(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !carriesValue(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(have, want)
	}
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
