package controllers

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

func TestApplyConfigurationOmitsStatusAndNulls(t *testing.T) {
	db := newTestDatabase()
	s, err := credentialsSecretFor(db, nil, &countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := applyConfiguration(s)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetAPIVersion() != "v1" || u.GetKind() != "Secret" {
		t.Errorf("apiVersion/kind = %s/%s, want v1/Secret", u.GetAPIVersion(), u.GetKind())
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "creationTimestamp"); found {
		t.Error("metadata.creationTimestamp is sent as null; an apply must name only fields it owns")
	}
	key, _, _ := unstructured.NestedString(u.Object, "data", keyAPIKey)
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || string(raw) != string(s.Data[keyAPIKey]) {
		t.Errorf("data.api-key = %q, want the base64 of the key", key)
	}

	d, err := applyConfiguration(deploymentFor(db, Options{DefaultImage: "i"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, found := d.Object["status"]; found {
		t.Error("status is sent in the apply; it belongs to the Deployment controller")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template", "metadata", "creationTimestamp"); found {
		t.Error("the pod template's creationTimestamp is sent as null")
	}
}

func TestCarriesIgnoresDefaultedFieldsOnly(t *testing.T) {
	want := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "todo", "labels": map[string]any{"a": "1"}},
		"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(80)}}},
	}
	cases := map[string]struct {
		have map[string]any
		want bool
	}{
		"the same object, without apiVersion and kind (a cached typed object)": {
			have: map[string]any{
				"metadata": map[string]any{"name": "todo", "labels": map[string]any{"a": "1"}},
				"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(80)}}},
			},
			want: true,
		},
		"fields the API server defaulted are extra": {
			have: map[string]any{
				"metadata": map[string]any{"name": "todo", "uid": "u", "labels": map[string]any{"a": "1", "b": "2"}},
				"spec": map[string]any{"type": "ClusterIP", "ports": []any{
					map[string]any{"port": int64(80), "protocol": "TCP"},
				}},
			},
			want: true,
		},
		"a value someone changed": {
			have: map[string]any{
				"metadata": map[string]any{"name": "todo", "labels": map[string]any{"a": "2"}},
				"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(80)}}},
			},
		},
		"a list element someone added": {
			have: map[string]any{
				"metadata": map[string]any{"name": "todo", "labels": map[string]any{"a": "1"}},
				"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(80)}, map[string]any{"port": int64(81)}}},
			},
		},
		"a field someone removed": {
			have: map[string]any{"metadata": map[string]any{"name": "todo"}, "spec": map[string]any{}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := carries(tc.have, want); got != tc.want {
				t.Errorf("carries = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAppliedHashSeesADroppedField(t *testing.T) {
	db := newTestDatabase()
	hash := func(db *dbv1.Database) string {
		u, err := applyConfiguration(deploymentFor(db, Options{DefaultImage: "i"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := stampAppliedHash(u); err != nil {
			t.Fatal(err)
		}
		return u.GetAnnotations()[AppliedHashAnnotation]
	}
	db.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100M")}
	withLimit := hash(db)
	if len(withLimit) != 32 || withLimit != hash(db) {
		t.Fatalf("hash %q, want 32 hex digits, the same for the same object", withLimit)
	}
	db.Spec.Resources.Limits = nil
	// The cached Deployment still carries the old limit, so a comparison alone would find
	// nothing to change: only the hash tells that the apply must remove it.
	if hash(db) == withLimit {
		t.Error("dropping the memory limit left the hash unchanged; the limit would never be removed")
	}
}

func TestOnlyOthersChangesOfOwnedObjectsAreNews(t *testing.T) {
	obj := func(rv, hash string) *corev1.Service {
		s := &corev1.Service{}
		s.ResourceVersion = rv
		if hash != "" {
			s.Annotations = map[string]string{AppliedHashAnnotation: hash}
		}
		return s
	}
	cases := map[string]struct {
		old, cur *corev1.Service
		want     bool
	}{
		"a resync (same resourceVersion)":            {old: obj("1", "a"), cur: obj("1", "a"), want: false},
		"the operator's own apply moved the hash":    {old: obj("1", "a"), cur: obj("2", "b"), want: false},
		"another controller wrote the status":        {old: obj("1", "a"), cur: obj("2", "a"), want: true},
		"a Secret the operator created, then edited": {old: obj("1", ""), cur: obj("2", ""), want: true},
	}
	for name, tc := range cases {
		if got := changedBySomeoneElse(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: changedBySomeoneElse = %v, want %v", name, got, tc.want)
		}
	}
}
