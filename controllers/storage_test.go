package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// bindClaim plays the volume controller: it reports ns/name bound with its requested size.
func (s *suite) bindClaim(t *testing.T, ns, name string) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	s.waitObject(t, ns, name, pvc)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := s.get(ns, name, pvc); err != nil {
			return err
		}
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.AccessModes = pvc.Spec.AccessModes
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]}
		return s.admin.Status().Update(context.Background(), pvc)
	})
	if err != nil {
		t.Fatalf("binding claim %s: %v", name, err)
	}
}

func TestStorageGrowth(t *testing.T) {
	s := envOrSkip(t)
	ctx := context.Background()
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "expandable"}, Provisioner: "example.com/test", AllowVolumeExpansion: ptr.To(true)},
		{ObjectMeta: metav1.ObjectMeta{Name: "fixed"}, Provisioner: "example.com/test", AllowVolumeExpansion: ptr.To(false)},
	} {
		if err := ignoreAlreadyExists(s.admin.Create(ctx, sc)); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		class       string
		wantSize    string
		wantStalled bool
	}{
		"a class that allows expansion grows the claim":     {class: "expandable", wantSize: "3Gi"},
		"a class that does not is a stall naming the claim": {class: "fixed", wantSize: "1Gi", wantStalled: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := s.namespace(t)
			s.createExample(t, ns, func(db *dbv1.Database) {
				db.Spec.Storage.StorageClassName = ptr.To(tc.class)
				db.Spec.Storage.Size = ptr.To(resource.MustParse("1Gi"))
			})
			s.bindClaim(t, ns, "todo-data")

			s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
				db.Spec.Storage.Size = ptr.To(resource.MustParse("3Gi"))
			})
			if tc.wantStalled {
				got := s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/"+ReasonStorageRejected)
				msg := meta.FindStatusCondition(got.Status.Conditions, dbv1.ConditionStalled).Message
				t.Logf("Stalled: %s", msg)
				if !strings.Contains(msg, `"todo-data"`) {
					t.Errorf("Stalled message %q, want it to name the claim", msg)
				}
			}
			eventually(t, "the claim's request", func() error {
				pvc := &corev1.PersistentVolumeClaim{}
				if err := s.get(ns, "todo-data", pvc); err != nil {
					return err
				}
				if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != tc.wantSize {
					return fmt.Errorf("request %s, want %s", got.String(), tc.wantSize)
				}
				return nil
			})
			if !tc.wantStalled {
				s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "False/AsExpected")
				return
			}
			// The user undoes the refused resize: back to the size the claim requests, which
			// status.storageSize reports, is not a shrink the CRD forbids.
			got := s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/"+ReasonStorageRejected)
			if got.Status.StorageSize == nil || got.Status.StorageSize.String() != "1Gi" {
				t.Fatalf("status.storageSize = %v, want the claim's 1Gi", got.Status.StorageSize)
			}
			s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
				db.Spec.Storage.Size = ptr.To(resource.MustParse("1Gi"))
			})
			s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "False/AsExpected")
		})
	}
}
