package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

const testProvisioner = "restkube.dev/e2e-hostpath"

func storageClass(name, provisioner string, mode storagev1.VolumeBindingMode, isDefault bool) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
		Provisioner:       provisioner,
		VolumeBindingMode: &mode,
	}
	if isDefault {
		sc.Annotations[annDefaultClass] = "true"
	}
	return sc
}

func claim(name string, class *string, selectedNode string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", UID: types.UID("uid-" + name), Annotations: map[string]string{}},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")},
			},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	if selectedNode != "" {
		pvc.Annotations[annSelectedNode] = selectedNode
	}
	return pvc
}

func ptr[T any](v T) *T { return &v }

func TestPassProvisions(t *testing.T) {
	cases := map[string]struct {
		objects []runtime.Object
		want    map[string]bool // claim name → a volume is expected
	}{
		"an immediate class provisions at once": {
			objects: []runtime.Object{
				storageClass("fast", testProvisioner, storagev1.VolumeBindingImmediate, false),
				claim("a", ptr("fast"), ""),
			},
			want: map[string]bool{"a": true},
		},
		"WaitForFirstConsumer waits for the scheduler's choice": {
			objects: []runtime.Object{
				storageClass("standard", testProvisioner, storagev1.VolumeBindingWaitForFirstConsumer, true),
				claim("unplaced", ptr("standard"), ""),
				claim("placed", ptr("standard"), "node-1"),
			},
			want: map[string]bool{"unplaced": false, "placed": true},
		},
		"a claim without a class gets the default class": {
			objects: []runtime.Object{
				storageClass("standard", testProvisioner, storagev1.VolumeBindingImmediate, true),
				claim("defaulted", nil, ""),
			},
			want: map[string]bool{"defaulted": true},
		},
		"other provisioners' claims are left alone": {
			objects: []runtime.Object{
				storageClass("other", "example.com/other", storagev1.VolumeBindingImmediate, true),
				claim("theirs", ptr("other"), "node-1"),
			},
			want: map[string]bool{"theirs": false},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			client := fake.NewClientset(tc.objects...)
			p := &Provisioner{Client: client, Name: testProvisioner, Dir: dir, UID: os.Getuid(), Logf: t.Logf}
			if err := p.Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			for claimName, want := range tc.want {
				pv, err := client.CoreV1().PersistentVolumes().Get(context.Background(), "pvc-uid-"+claimName, metav1.GetOptions{})
				if got := err == nil; got != want {
					t.Fatalf("claim %s: volume exists = %v, want %v (%v)", claimName, got, want, err)
				}
				if !want {
					continue
				}
				if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != claimName || pv.Spec.ClaimRef.UID != types.UID("uid-"+claimName) {
					t.Fatalf("claimRef %+v", pv.Spec.ClaimRef)
				}
				if pv.Annotations[annProvisionedBy] != testProvisioner {
					t.Fatalf("annotations %v", pv.Annotations)
				}
				st, err := os.Stat(pv.Spec.HostPath.Path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o777 || filepath.Dir(pv.Spec.HostPath.Path) != dir {
					t.Fatalf("volume directory %s has mode %v", pv.Spec.HostPath.Path, st.Mode().Perm())
				}
			}
			// A second pass must neither fail nor create anything twice.
			if err := p.Pass(context.Background()); err != nil {
				t.Fatalf("second pass: %v", err)
			}
		})
	}
}

func releasedVolume(name, path string, policy corev1.PersistentVolumeReclaimPolicy) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: testProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: policy,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased},
	}
}

func TestPassDeletesReleasedVolumes(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "gone"), filepath.Join(dir, "kept")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	client := fake.NewClientset(
		releasedVolume("pv-gone", filepath.Join(dir, "gone"), corev1.PersistentVolumeReclaimDelete),
		releasedVolume("pv-kept", filepath.Join(dir, "kept"), corev1.PersistentVolumeReclaimRetain),
		releasedVolume("pv-outside", outside, corev1.PersistentVolumeReclaimDelete),
	)
	p := &Provisioner{Client: client, Name: testProvisioner, Dir: dir, UID: os.Getuid(), Logf: t.Logf}
	if err := p.Pass(context.Background()); err == nil {
		t.Fatal("a volume outside the directory must be reported, not deleted")
	}
	exists := func(name string) bool {
		_, err := client.CoreV1().PersistentVolumes().Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}
	if exists("pv-gone") {
		t.Error("a released Delete volume was not deleted")
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Errorf("its directory is still there: %v", err)
	}
	if !exists("pv-kept") {
		t.Error("a Retain volume was deleted")
	}
	if _, err := os.Stat(outside); err != nil || !exists("pv-outside") {
		t.Errorf("a volume outside the directory was touched: %v", err)
	}
}
