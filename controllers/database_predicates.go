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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Which events of owned objects bring their Database back. A reconcile should not cause the
// next one: the operator creates its objects itself, so their creation is news to nobody (and at
// start-up every Database is reconciled anyway, through its own watch), and an update that moved
// AppliedHashAnnotation is the operator's own apply. Any other change — a status written by
// another controller, an edit by hand — and a deletion are looked at.

// ownedObjectChanged passes an owned object's deletion and the updates someone else made.
var ownedObjectChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool { return changedBySomeoneElse(e.ObjectOld, e.ObjectNew) },
}

// ownedSecretChanged is ownedObjectChanged for the typed source of owned Secrets.
var ownedSecretChanged = predicate.TypedFuncs[*corev1.Secret]{
	CreateFunc: func(event.TypedCreateEvent[*corev1.Secret]) bool { return false },
	UpdateFunc: func(e event.TypedUpdateEvent[*corev1.Secret]) bool {
		return changedBySomeoneElse(e.ObjectOld, e.ObjectNew)
	},
}

// changedBySomeoneElse reports whether an update of an owned object is news: it changed the
// object (not a resync) and was not the operator's own apply.
func changedBySomeoneElse(old, cur client.Object) bool {
	return old.GetResourceVersion() != cur.GetResourceVersion() &&
		old.GetAnnotations()[AppliedHashAnnotation] == cur.GetAnnotations()[AppliedHashAnnotation]
}

// databaseForClaim maps a claim the operator made to its Database, by the instance label.
func databaseForClaim(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[labelManagedBy] != managedBy || l[labelName] != appName || l[labelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[labelInstance]}}}
}
