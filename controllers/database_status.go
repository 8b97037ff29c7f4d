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

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// updateStatus writes the status decided from obs (statusFor, in status.go), when it changed,
// and records an event when the Ready condition moved.
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
