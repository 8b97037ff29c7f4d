package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

func TestPVCFor(t *testing.T) {
	claim := func(size, class string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod},
			StorageClassName: ptr.To(class),
			VolumeMode:       ptr.To(corev1.PersistentVolumeFilesystem),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		}}
	}
	cases := map[string]struct {
		mutate    func(*dbv1.Database)
		existing  *corev1.PersistentVolumeClaim
		wantSize  string
		wantClass string
		wantOwner bool
		wantMode  corev1.PersistentVolumeAccessMode
	}{
		"under Retain a new claim has no owner reference": {
			wantSize: "2Gi", wantClass: "standard", wantMode: corev1.ReadWriteOnce,
		},
		"under Delete the claim is owned by the Database": {
			mutate:   func(db *dbv1.Database) { db.Spec.Storage.DeletionPolicy = dbv1.DeletionPolicyDelete },
			wantSize: "2Gi", wantClass: "standard", wantOwner: true, wantMode: corev1.ReadWriteOnce,
		},
		"without a size the claim gets 1Gi": {
			mutate:   func(db *dbv1.Database) { db.Spec.Storage.Size = nil },
			wantSize: "1Gi", wantClass: "standard", wantMode: corev1.ReadWriteOnce,
		},
		"a larger spec grows an existing claim": {
			existing: claim("1Gi", "standard"),
			wantSize: "2Gi", wantClass: "standard", wantMode: corev1.ReadWriteOncePod,
		},
		"an adopted larger claim never shrinks": {
			existing: claim("10Gi", "standard"),
			wantSize: "10Gi", wantClass: "standard", wantMode: corev1.ReadWriteOncePod,
		},
		"an adopted claim keeps its immutable storage class": {
			existing: claim("2Gi", "fast"),
			wantSize: "2Gi", wantClass: "fast", wantMode: corev1.ReadWriteOncePod,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			if tc.mutate != nil {
				tc.mutate(db)
			}
			pvc := pvcFor(db, tc.existing)
			if pvc.Name != "todo-data" || pvc.Namespace != "apps" {
				t.Errorf("name = %s/%s, want apps/todo-data", pvc.Namespace, pvc.Name)
			}
			if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse(tc.wantSize)) != 0 {
				t.Errorf("size = %s, want %s", got.String(), tc.wantSize)
			}
			if got := ptr.Deref(pvc.Spec.StorageClassName, ""); got != tc.wantClass {
				t.Errorf("storageClassName = %q, want %q", got, tc.wantClass)
			}
			if got := hasControllerRef(pvc.OwnerReferences, db); got != tc.wantOwner {
				t.Errorf("owned = %v, want %v", got, tc.wantOwner)
			}
			if len(pvc.OwnerReferences) > 0 && !tc.wantOwner {
				t.Errorf("owner references %+v, want none", pvc.OwnerReferences)
			}
			if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != tc.wantMode {
				t.Errorf("accessModes = %v, want [%s]", pvc.Spec.AccessModes, tc.wantMode)
			}
			if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
				t.Errorf("volumeMode = %v, want Filesystem stated (the API server's default; an apply that omits it differs from the stored claim)", pvc.Spec.VolumeMode)
			}
			if pvc.Labels[labelInstance] != "todo" || pvc.Labels[labelManagedBy] != managedBy {
				t.Errorf("labels = %v, want the standard labels (a Retained claim is found by them)", pvc.Labels)
			}
		})
	}
}
