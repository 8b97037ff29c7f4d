package controllers

import (
	"encoding/base64"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
