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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// defaultStorageSize is used when the spec carries no size (the CRD defaults it to the same).
var defaultStorageSize = resource.MustParse("1Gi")

// pvcFor returns the desired <name>-data claim. existing (nil when absent) is the claim found in
// the cluster, possibly left by an earlier Database of the same name: its immutable fields are
// kept so that adopting it never fails, and its size is a floor, because a claim cannot shrink.
// The owner reference is set only under deletionPolicy Delete; under Retain the claim must
// outlive the Database.
func pvcFor(db *dbv1.Database, existing *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	size := defaultStorageSize.DeepCopy()
	if db.Spec.Storage.Size != nil {
		size = db.Spec.Storage.Size.DeepCopy()
	}
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      db.DataClaimName(),
			Namespace: db.Namespace,
			Labels:    labelsFor(db),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: db.Spec.Storage.StorageClassName,
			// Stated, though it is the API server's default: every field the server would
			// default is in the desired claim, so it never differs from the claim as stored.
			VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem),
		},
	}
	if db.Spec.Storage.DeletionPolicy == dbv1.DeletionPolicyDelete {
		pvc.OwnerReferences = []metav1.OwnerReference{ownerReference(db)}
	}
	if existing != nil {
		pvc.Spec.AccessModes = existing.Spec.AccessModes
		pvc.Spec.StorageClassName = existing.Spec.StorageClassName
		if existing.Spec.VolumeMode != nil {
			pvc.Spec.VolumeMode = existing.Spec.VolumeMode
		}
		if cur, ok := existing.Spec.Resources.Requests[corev1.ResourceStorage]; ok && cur.Cmp(size) > 0 {
			size = cur.DeepCopy()
		}
	}
	pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: size}
	return pvc
}
