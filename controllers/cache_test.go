package controllers

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCacheHoldsOnlyWatchedSecrets checks the memory design: the manager's cache, which backs
// every watch, holds the labelled Secrets and none of the others.
func TestCacheHoldsOnlyWatchedSecrets(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	ctx := context.Background()
	for i := range 20 {
		s.mustCreate(t, secret(ns, fmt.Sprintf("unrelated-%d", i), "tls.key", "x", false))
	}
	s.mustCreate(t, secret(ns, "watched", "k", "v", true))

	eventually(t, "the cache lists exactly the watched Secret", func() error {
		var list corev1.SecretList
		if err := s.mgrClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Name != "watched" {
			names := []string{}
			for _, it := range list.Items {
				names = append(names, it.Name)
			}
			return fmt.Errorf("cached Secrets %v, want only [watched]", names)
		}
		if list.Items[0].ManagedFields != nil {
			return fmt.Errorf("cached Secret keeps managedFields; the cache strips them")
		}
		return nil
	})
	var all corev1.SecretList
	if err := s.admin.List(ctx, &all, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(all.Items) < 21 {
		t.Fatalf("the API server has %d Secrets, want the 21 created", len(all.Items))
	}
}
