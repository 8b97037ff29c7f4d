package controllers

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCachesHoldNoUnrelatedSecretData checks the memory design: the manager keeps of an
// unrelated Secret only its name (metadata informer, trimmed), and the data of the Secrets it
// owns and of no other.
func TestCachesHoldNoUnrelatedSecretData(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	ctx := context.Background()
	for i := range 20 {
		u := secret(ns, fmt.Sprintf("unrelated-%d", i), "tls.key", "x")
		u.Labels = map[string]string{"team": "a"}
		u.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"tls.key":"eA=="}}`}
		s.mustCreate(t, u)
	}
	s.createExample(t, ns)
	s.waitObject(t, ns, "todo-settings", &corev1.Secret{})

	eventually(t, "the owned-Secret cache holds exactly the two owned Secrets", func() error {
		var list corev1.SecretList
		if err := s.reconciler.ownedSecrets.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		names := map[string]bool{}
		for _, it := range list.Items {
			names[it.Name] = true
			for _, e := range it.ManagedFields {
				if e.FieldsV1 != nil || !isCreateEntry(e) {
					return fmt.Errorf("cached Secret %s keeps managedFields %+v; the cache keeps only the marker of a create", it.Name, it.ManagedFields)
				}
			}
		}
		if len(names) != 2 || !names["todo-credentials"] || !names["todo-settings"] {
			return fmt.Errorf("cached Secrets %v, want only todo-credentials and todo-settings", names)
		}
		return nil
	})
	eventually(t, "the metadata cache sees every Secret, by name only", func() error {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := s.mgrCache.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) < 24 {
			return fmt.Errorf("%d Secrets in the metadata cache, want the 20 unrelated, 2 referenced and 2 owned", len(list.Items))
		}
		for _, it := range list.Items {
			if it.Labels != nil || it.Annotations != nil || it.ManagedFields != nil || it.OwnerReferences != nil {
				return fmt.Errorf("metadata of %s kept labels %v, annotations %v or owners: only the name is needed", it.Name, it.Labels, it.Annotations)
			}
		}
		return nil
	})
}
