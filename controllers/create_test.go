package controllers

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

func TestStripManagedFieldsKeepsOnlyTheMarkerOfACreate(t *testing.T) {
	fields := &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, APIVersion: "v1", FieldsV1: fields}
	}
	marker := []metav1.ManagedFieldsEntry{{Manager: FieldOwner, Operation: metav1.ManagedFieldsOperationUpdate}}
	cases := map[string]struct {
		in   []metav1.ManagedFieldsEntry
		want []metav1.ManagedFieldsEntry
	}{
		"an object without managedFields stays so": {},
		"an object the operator applied keeps nothing": {
			in: []metav1.ManagedFieldsEntry{entry(FieldOwner, metav1.ManagedFieldsOperationApply, "")},
		},
		"an object the operator created keeps a bare marker": {
			in:   []metav1.ManagedFieldsEntry{entry(FieldOwner, metav1.ManagedFieldsOperationUpdate, "")},
			want: marker,
		},
		"other managers' entries go, the marker stays": {
			in: []metav1.ManagedFieldsEntry{
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status"),
				entry(FieldOwner, metav1.ManagedFieldsOperationUpdate, ""),
				entry("kubectl", metav1.ManagedFieldsOperationUpdate, ""),
			},
			want: marker,
		},
		"an update of the operator's on a subresource is no create": {
			in: []metav1.ManagedFieldsEntry{entry(FieldOwner, metav1.ManagedFieldsOperationUpdate, "status")},
		},
		"another manager's update is no create of ours": {
			in: []metav1.ManagedFieldsEntry{entry("kubectl-create", metav1.ManagedFieldsOperationUpdate, "")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "todo", ManagedFields: tc.in}}
			out, err := stripManagedFields(svc)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*corev1.Service)
			if !reflect.DeepEqual(got.ManagedFields, tc.want) {
				t.Errorf("managedFields = %+v, want %+v", got.ManagedFields, tc.want)
			}
			if createdByOperator(got) != (tc.want != nil) {
				t.Errorf("createdByOperator = %v, want %v", createdByOperator(got), tc.want != nil)
			}
		})
	}
}

func TestCoversCreatedFieldsOnlyWhenTheApplySetsEveryFieldOfTheSecret(t *testing.T) {
	db := newTestDatabase()
	desired, err := settingsSecretFor(db, settingsFor(db, secretValues{}))
	if err != nil {
		t.Fatal(err)
	}
	request := func() *unstructured.Unstructured {
		u, err := applyConfiguration(desired)
		if err != nil {
			t.Fatal(err)
		}
		if err := stampAppliedHash(u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	cached := func(edit func(*corev1.Secret)) *corev1.Secret {
		s := desired.DeepCopy()
		s.Annotations = request().GetAnnotations()
		s.UID, s.ResourceVersion = "secret-uid", "7"
		s.Data[keySettings] = []byte("{}\n") // the old content: values may differ
		if edit != nil {
			edit(s)
		}
		return s
	}
	cases := map[string]struct {
		existing client.Object
		want     bool
	}{
		"the same fields, another content": {existing: cached(nil), want: true},
		"a data key the apply no longer sets": {existing: cached(func(s *corev1.Secret) {
			s.Data["old.json"] = []byte("{}")
		})},
		"a label the apply no longer sets": {existing: cached(func(s *corev1.Secret) { s.Labels["tier"] = "db" })},
		"an annotation the apply no longer sets": {existing: cached(func(s *corev1.Secret) {
			s.Annotations["note"] = "x"
		})},
		"an owner the apply no longer names": {existing: cached(func(s *corev1.Secret) {
			s.OwnerReferences = append(s.OwnerReferences, metav1.OwnerReference{UID: "other"})
		})},
		"immutable, which the apply does not set": {existing: cached(func(s *corev1.Secret) {
			s.Immutable = ptr.To(true)
		})},
		"a Service, which holds defaulted fields": {existing: serviceFor(db)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := coversCreatedFields(request(), tc.existing); got != tc.want {
				t.Errorf("coversCreatedFields = %v, want %v", got, tc.want)
			}
		})
	}
}

// operatorEntries returns obj's managedFields entries of FieldOwner on the object itself (not a
// subresource), as sorted "Operation" strings.
func operatorEntries(obj client.Object) []string {
	var ops []string
	for _, e := range obj.GetManagedFields() {
		if e.Manager == FieldOwner && e.Subresource == "" {
			ops = append(ops, string(e.Operation))
		}
	}
	sort.Strings(ops)
	return ops
}

func TestObjectsCreatedWithPOSTLoseTheFieldsTheSpecDrops(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := s.createExample(t, ns) // with a memory limit, so the container has GOMEMLIMIT
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")

	owned := map[string]client.Object{
		"todo-data": &corev1.PersistentVolumeClaim{}, "todo": &corev1.Service{},
		"todo-settings": &corev1.Secret{}, "todo/Deployment": &appsv1.Deployment{},
	}
	for name, obj := range owned {
		if err := s.get(ns, strings.TrimSuffix(name, "/Deployment"), obj); err != nil {
			t.Fatal(err)
		}
		// A create leaves an Update entry of the operator's; an apply would have left an Apply one.
		if ops := operatorEntries(obj); !reflect.DeepEqual(ops, []string{"Update"}) {
			t.Errorf("%T %s: the operator's managedFields entries are %v, want one Update (a create with POST)", obj, name, ops)
		}
		if obj.GetAnnotations()[AppliedHashAnnotation] == "" {
			t.Errorf("%T %s carries no %s; the skip of unchanged applies needs it", obj, name, AppliedHashAnnotation)
		}
	}
	for _, obj := range []client.Object{owned["todo"], owned["todo-settings"], owned["todo/Deployment"]} {
		if !hasControllerRef(obj.GetOwnerReferences(), db) {
			t.Errorf("%T %s: owners %+v, want the Database", obj, obj.GetName(), obj.GetOwnerReferences())
		}
	}

	// Dropping the memory limit drops a limit and an env var from the Deployment, and a change
	// of the CORS origins rewrites settings.json.
	s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
		db.Spec.Resources.Limits = nil
		db.Spec.CORS.AllowedOrigins = []string{"https://new.example.com"}
	})
	eventually(t, "the Deployment loses the memory limit and GOMEMLIMIT", func() error {
		d := &appsv1.Deployment{}
		if err := s.get(ns, "todo", d); err != nil {
			return err
		}
		c := d.Spec.Template.Spec.Containers[0]
		if len(c.Resources.Limits) != 0 || len(c.Env) != 0 {
			return fmt.Errorf("limits %v env %+v, want neither", c.Resources.Limits, c.Env)
		}
		return nil
	})
	eventually(t, "settings.json carries the new origin", func() error {
		sec := &corev1.Secret{}
		if err := s.get(ns, "todo-settings", sec); err != nil {
			return err
		}
		if !strings.Contains(string(sec.Data[keySettings]), "https://new.example.com") {
			return fmt.Errorf("settings.json = %s", sec.Data[keySettings])
		}
		return nil
	})
	// The Deployment's create entry was converted. The settings Secret's was not: the apply
	// sets every field the create did, so it leaves nothing behind (coversCreatedFields).
	for name, tc := range map[string]struct {
		obj client.Object
		ops []string
	}{
		"todo":          {&appsv1.Deployment{}, []string{"Apply"}},
		"todo-settings": {&corev1.Secret{}, []string{"Apply", "Update"}},
	} {
		if err := s.get(ns, name, tc.obj); err != nil {
			t.Fatal(err)
		}
		if ops := operatorEntries(tc.obj); !reflect.DeepEqual(ops, tc.ops) {
			t.Errorf("%T %s after the change: the operator's managedFields entries are %v, want %v", tc.obj, name, ops, tc.ops)
		}
	}

	// Once the cache has the new objects, a reconcile finds nothing to write.
	eventually(t, "the manager's cache has the converted Deployment", func() error {
		d := &appsv1.Deployment{}
		if err := s.mgrClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "todo"}, d); err != nil {
			return err
		}
		if createdByOperator(d) || len(d.Spec.Template.Spec.Containers[0].Env) != 0 {
			return fmt.Errorf("cached Deployment still carries the marker of a create or GOMEMLIMIT")
		}
		sec := &corev1.Secret{}
		if err := s.reconciler.ownedSecrets.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "todo-settings"}, sec); err != nil {
			return err
		}
		if !strings.Contains(string(sec.Data[keySettings]), "https://new.example.com") {
			return fmt.Errorf("cached settings.json is the old one")
		}
		cached := &dbv1.Database{}
		if err := s.mgrClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "todo"}, cached); err != nil {
			return err
		}
		if cached.Status.ObservedGeneration != cached.Generation {
			return fmt.Errorf("cached observedGeneration %d, generation %d", cached.Status.ObservedGeneration, cached.Generation)
		}
		return nil
	})
	before := s.resourceVersions(t, ns)
	if _, err := s.reconcilerWith(nil).Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "todo"}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if after := s.resourceVersions(t, ns); !reflect.DeepEqual(before, after) {
		t.Errorf("a reconcile after the change wrote objects: resourceVersions %v became %v", before, after)
	}
}

func TestAHandEditOfAServiceCreatedWithPOSTIsPutBack(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	s.createExample(t, ns)
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	svc := &corev1.Service{}
	if err := s.get(ns, "todo", svc); err != nil {
		t.Fatal(err)
	}
	clusterIP := svc.Spec.ClusterIP

	// Someone points the port elsewhere and adds a port of their own; the operator owns the
	// ports list's "http" entry only, so it puts that back and leaves the other.
	patch := []byte(`{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":9999},{"name":"extra","port":81,"protocol":"TCP","targetPort":81}]}}`)
	if err := s.admin.Patch(context.Background(), svc, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Service's http port points at http again", func() error {
		if err := s.get(ns, "todo", svc); err != nil {
			return err
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "http" && p.TargetPort.StrVal != "http" {
				return fmt.Errorf("ports %+v", svc.Spec.Ports)
			}
		}
		return nil
	})
	if svc.Spec.ClusterIP != clusterIP {
		t.Errorf("clusterIP %q became %q; converting the create's entry must not release it", clusterIP, svc.Spec.ClusterIP)
	}
	if len(svc.Spec.Ports) != 2 {
		t.Errorf("ports %+v, want http and the other manager's extra", svc.Spec.Ports)
	}
	if ops := operatorEntries(svc); !reflect.DeepEqual(ops, []string{"Apply"}) {
		t.Errorf("the operator's managedFields entries are %v, want one Apply", ops)
	}
}
