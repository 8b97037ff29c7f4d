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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions restricts the manager's informers to the objects the operator needs, so its
// memory follows the number of Databases, not the size of the cluster:
//   - Secrets: only those labelled WatchLabel=true — the ones it owns and the user Secrets a
//     Database references (the reconciler labels those when it first reads them). Secrets are
//     the big objects of a cluster (Helm releases, certificates); none of the others is cached.
//   - Deployments, Services, PersistentVolumeClaims: only those labelled
//     app.kubernetes.io/managed-by=restkube-operator.
//
// managedFields are stripped from everything cached: the reconciler never reads them.
func CacheOptions() cache.Options {
	owned := labels.SelectorFromSet(labels.Set{labelManagedBy: managedBy})
	watched := labels.SelectorFromSet(labels.Set{WatchLabel: "true"})
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Label: watched},
			&corev1.PersistentVolumeClaim{}: {Label: owned},
			&corev1.Service{}:               {Label: owned},
			&appsv1.Deployment{}:            {Label: owned},
		},
	}
}
