package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReadCounter counts the Secret reads that reach the API server.
type secretReadCounter struct {
	client.Reader
	reads atomic.Int64
}

func (c *secretReadCounter) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		c.reads.Add(1)
	}
	return c.Reader.Get(ctx, key, obj, opts...)
}

func TestReferencedSecretIsReadOncePerVersion(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	r := s.reconcilerWith(nil)
	counter := &secretReadCounter{Reader: r.apiReader}
	r.apiReader, r.refSecrets = counter, &refSecretCache{}
	ctx := context.Background()
	key := types.NamespacedName{Namespace: ns, Name: "shared"}

	s.mustCreate(t, secret(ns, "shared", "key", "v1"))
	waitSecretMeta(t, r, key, func(rv string) bool { return rv != "" })
	for range 5 {
		sec, err := r.referencedSecret(ctx, ns, "shared")
		if err != nil || sec == nil || string(sec.Data["key"]) != "v1" {
			t.Fatalf("referencedSecret = %v, %v; want the Secret with v1", sec, err)
		}
	}
	if n := counter.reads.Load(); n != 1 {
		t.Fatalf("5 reads of an unchanged Secret reached the API server %d times, want 1", n)
	}

	before := &metav1.PartialObjectMetadata{}
	before.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.secretMeta.Get(ctx, key, before); err != nil {
		t.Fatal(err)
	}
	rotateSecret(t, s, ns, "shared", "key", "v2")
	waitSecretMeta(t, r, key, func(rv string) bool { return rv != before.ResourceVersion })
	sec, err := r.referencedSecret(ctx, ns, "shared")
	if err != nil || sec == nil || string(sec.Data["key"]) != "v2" {
		t.Fatalf("after a change referencedSecret = %v, %v; want the Secret with v2", sec, err)
	}
	if n := counter.reads.Load(); n != 2 {
		t.Fatalf("a changed Secret was read %d times in all, want 2", n)
	}

	if err := s.admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted Secret is reported missing", func() error {
		sec, err := r.referencedSecret(ctx, ns, "shared")
		if err != nil || sec != nil {
			return fmt.Errorf("referencedSecret = %v, %v; want nil, nil", sec, err)
		}
		return nil
	})
}

// waitSecretMeta waits until the manager's metadata cache holds key with a resourceVersion ok
// accepts.
func waitSecretMeta(t *testing.T, r *DatabaseReconciler, key types.NamespacedName, ok func(rv string) bool) {
	t.Helper()
	eventually(t, "the metadata cache sees Secret "+key.Name, func() error {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.secretMeta.Get(context.Background(), key, m); err != nil {
			return err
		}
		if !ok(m.ResourceVersion) {
			return fmt.Errorf("resourceVersion %s", m.ResourceVersion)
		}
		return nil
	})
}

func TestRefSecretCacheIsBounded(t *testing.T) {
	c := &refSecretCache{}
	big := []byte(strings.Repeat("x", 1<<20))
	for i := range 40 {
		c.put(types.NamespacedName{Namespace: "ns", Name: fmt.Sprint(i)}, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint(i), ResourceVersion: "1"},
			Data:       map[string][]byte{"k": big},
		})
		if c.bytes > maxRefSecretBytes {
			t.Fatalf("after %d Secrets of 1 MiB the cache holds %d bytes, over %d", i+1, c.bytes, maxRefSecretBytes)
		}
	}
	if c.get(types.NamespacedName{Namespace: "ns", Name: "39"}, "1") == nil {
		t.Error("the last Secret put is not in the cache")
	}
	if c.get(types.NamespacedName{Namespace: "ns", Name: "39"}, "2") != nil {
		t.Error("a Secret read at version 1 was returned for version 2")
	}
	c.put(types.NamespacedName{Namespace: "ns", Name: "huge"}, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1"},
		Data:       map[string][]byte{"k": []byte(strings.Repeat("x", maxRefSecretBytes+1))},
	})
	if c.bytes > maxRefSecretBytes {
		t.Errorf("a Secret larger than the bound was kept: %d bytes", c.bytes)
	}
}
