package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
)

// exampleDatabase is the README's example in namespace ns, with its two Secrets.
func exampleDatabase(ns string) (*dbv1.Database, []*corev1.Secret) {
	db := newTestDatabase()
	db.ObjectMeta = metav1.ObjectMeta{Name: "todo", Namespace: ns}
	db.Spec.Storage.StorageClassName = nil
	db.Spec.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100M")},
	}
	return db, []*corev1.Secret{
		secret(ns, "todo-auth0", "clientSecret", "auth0-client-secret-value"),
		secret(ns, "todo-webkey", "key", "web-key-value-1"),
	}
}

// createExample creates the example Database's Secrets, then the Database itself after
// modify has adjusted it, and returns it.
func (s *suite) createExample(t *testing.T, ns string, modify ...func(*dbv1.Database)) *dbv1.Database {
	t.Helper()
	db, secrets := exampleDatabase(ns)
	for _, sec := range secrets {
		s.mustCreate(t, sec)
	}
	for _, m := range modify {
		m(db)
	}
	s.mustCreate(t, db)
	return db
}

// condition returns db's condition of type typ as "Status/Reason", or "" when absent.
func condition(db *dbv1.Database, typ string) string {
	c := meta.FindStatusCondition(db.Status.Conditions, typ)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// waitCondition waits until db's condition typ reads want ("True/Available").
func (s *suite) waitCondition(t *testing.T, ns, name, typ, want string) *dbv1.Database {
	t.Helper()
	db := &dbv1.Database{}
	eventually(t, fmt.Sprintf("%s %s", typ, want), func() error {
		if err := s.get(ns, name, db); err != nil {
			return err
		}
		if got := condition(db, typ); got != want {
			return fmt.Errorf("%s is %q (generation %d, observed %d)", typ, got, db.Generation, db.Status.ObservedGeneration)
		}
		if db.Status.ObservedGeneration != db.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", db.Status.ObservedGeneration, db.Generation)
		}
		return nil
	})
	return db
}

// waitObject waits until ns/name exists and returns it in obj.
func (s *suite) waitObject(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s exists", obj, name), func() error { return s.get(ns, name, obj) })
}

// markAvailable plays the Deployment controller: it reports the Deployment's pod available.
func (s *suite) markAvailable(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "Deployment status written", func() error {
		d := &appsv1.Deployment{}
		if err := s.get(ns, name, d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
		return s.admin.Status().Update(context.Background(), d)
	})
}

// waitEvent waits for an event about Database name with the given type and reason.
func (s *suite) waitEvent(t *testing.T, ns, name, typ, reason, messagePart string) {
	t.Helper()
	s.waitEventAbout(t, ns, "Database", name, typ, reason, messagePart)
}

// waitEventAbout waits for an event about the kind's object name with the given type and
// reason, whose note holds messagePart.
func (s *suite) waitEventAbout(t *testing.T, ns, kind, name, typ, reason, messagePart string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a %s event %s", typ, reason), func() error {
		var list eventsv1.EventList
		if err := s.admin.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Type == typ && e.Reason == reason &&
				strings.Contains(e.Note, messagePart) {
				return nil
			}
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Note)
		}
		return fmt.Errorf("events so far: %q", seen)
	})
}

func TestCreateBuildsEveryObjectOfThePodContract(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := s.createExample(t, ns)

	creds := &corev1.Secret{}
	s.waitObject(t, ns, "todo-credentials", creds)
	for _, k := range []string{"api-key", "signing-key"} {
		if len(creds.Data[k]) < 64 {
			t.Errorf("credentials %s = %q, want >= 32 random bytes as hex", k, creds.Data[k])
		}
	}
	if !hasControllerRef(creds.OwnerReferences, db) {
		t.Errorf("credentials owners = %+v, want the Database", creds.OwnerReferences)
	}

	settingsSecret := &corev1.Secret{}
	s.waitObject(t, ns, "todo-settings", settingsSecret)
	var st settings.Settings
	if err := json.Unmarshal(settingsSecret.Data["settings.json"], &st); err != nil {
		t.Fatalf("settings.json: %v", err)
	}
	if !st.Auth.Enabled || st.Auth.TokenTTL != "1h0m0s" || st.Auth.Auth0 == nil || st.Auth.Auth0.Domain != "example.eu.auth0.com" {
		t.Errorf("settings auth = %+v, want enabled, 1h, the Auth0 domain", st.Auth)
	}
	if len(st.APIKeys.Web) != 1 || st.APIKeys.Web[0].Key != "web-key-value-1" {
		t.Errorf("settings web keys = %+v, want the value resolved from todo-webkey", st.APIKeys.Web)
	}
	if strings.Contains(string(settingsSecret.Data["settings.json"]), "auth0-client-secret-value") {
		t.Error("the Auth0 client secret leaked into settings.json; it has its own file")
	}

	pvc := &corev1.PersistentVolumeClaim{}
	s.waitObject(t, ns, "todo-data", pvc)
	if len(pvc.OwnerReferences) != 0 {
		t.Errorf("under Retain the claim has owners %+v, want none", pvc.OwnerReferences)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "2Gi" {
		t.Errorf("claim size = %s, want 2Gi", got.String())
	}

	svc := &corev1.Service{}
	s.waitObject(t, ns, "todo", svc)
	if svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.StrVal != "http" || !hasControllerRef(svc.OwnerReferences, db) {
		t.Errorf("service = %+v, want port 80 to http, owned by the Database", svc.Spec)
	}

	dep := &appsv1.Deployment{}
	s.waitObject(t, ns, "todo", dep)
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != testImage || strings.Join(c.Args, " ") != "serve --data-dir=/var/lib/restkube --config-dir=/etc/restkube --listen=:8080" {
		t.Errorf("container image %q args %q, want the default image and the serve flags", c.Image, c.Args)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || *dep.Spec.Replicas != 1 || !hasControllerRef(dep.OwnerReferences, db) {
		t.Errorf("deployment strategy %q replicas %d owners %+v", dep.Spec.Strategy.Type, *dep.Spec.Replicas, dep.OwnerReferences)
	}
	var files []string
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				for _, it := range src.Secret.Items {
					files = append(files, it.Path)
				}
			}
		}
	}
	if strings.Join(files, ",") != "settings.json,signing-key,api-key,auth0-client-secret" {
		t.Errorf("projected files = %v, want settings.json, signing-key, api-key, auth0-client-secret", files)
	}

	got := s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	if condition(got, dbv1.ConditionReconciling) != "True/Progressing" || condition(got, dbv1.ConditionStalled) != "False/AsExpected" {
		t.Errorf("conditions = %+v, want Reconciling True and Stalled False while progressing", got.Status.Conditions)
	}
	if got.Status.Endpoint != "http://todo."+ns+".svc:80" || got.Status.CredentialsSecret != "todo-credentials" {
		t.Errorf("status endpoint %q credentialsSecret %q", got.Status.Endpoint, got.Status.CredentialsSecret)
	}

	s.markAvailable(t, ns, "todo")
	got = s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "True/Available")
	if condition(got, dbv1.ConditionReconciling) != "False/Available" || condition(got, dbv1.ConditionStalled) != "False/AsExpected" {
		t.Errorf("conditions = %+v, want Reconciling and Stalled False once ready", got.Status.Conditions)
	}
	s.waitEvent(t, ns, "todo", corev1.EventTypeNormal, ReasonAvailable, "available")

	// A reconcile of a Database in its steady state writes nothing: no object changes version.
	eventually(t, "the manager's cache has caught up", func() error {
		cached := &dbv1.Database{}
		if err := s.mgrClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "todo"}, cached); err != nil {
			return err
		}
		if condition(cached, dbv1.ConditionReady) != "True/Available" {
			return fmt.Errorf("cached Ready is %q", condition(cached, dbv1.ConditionReady))
		}
		return nil
	})
	before := s.resourceVersions(t, ns)
	r := s.reconcilerWith(nil)
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "todo"}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if after := s.resourceVersions(t, ns); !reflect.DeepEqual(before, after) {
		t.Errorf("a steady-state reconcile wrote objects: resourceVersions %v became %v", before, after)
	}
}

func TestMissingSecretStallsThenRecoversWhenItAppears(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db, secrets := exampleDatabase(ns)
	s.mustCreate(t, secrets[1]) // the web key; the Auth0 Secret is missing
	s.mustCreate(t, db)

	got := s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/SecretNotFound")
	msg := meta.FindStatusCondition(got.Status.Conditions, dbv1.ConditionStalled).Message
	if !strings.Contains(msg, `"todo-auth0"`) || !strings.Contains(msg, "spec.auth.auth0.secretRef") {
		t.Errorf("Stalled message %q, want it to name the Secret and the field", msg)
	}
	if condition(got, dbv1.ConditionReady) != "False/SecretNotFound" {
		t.Errorf("Ready = %q, want False/SecretNotFound", condition(got, dbv1.ConditionReady))
	}
	s.waitEvent(t, ns, "todo", corev1.EventTypeWarning, ReasonSecretNotFound, "todo-auth0")
	// The objects that do not depend on the Secret are kept; the pod is held back.
	s.waitObject(t, ns, "todo-credentials", &corev1.Secret{})
	if err := s.get(ns, "todo", &appsv1.Deployment{}); err == nil {
		t.Error("a Deployment was created though its Secret is missing")
	}

	// A stalled reconcile is retried on a slow timer too, as a safety net behind the watch.
	r := s.reconcilerWith(func(o *Options) { o.SecretRetryInterval = 42e9 })
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "todo"}})
	if err != nil || res.RequeueAfter != 42e9 {
		t.Errorf("Reconcile = %+v, %v; want a retry after the configured interval and no error", res, err)
	}

	// Created without any label, the Secret is seen at once (the suite's retry is an hour).
	s.mustCreate(t, secret(ns, "todo-auth0", "wrong-key", "x"))
	got = s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/SecretKeyNotFound")
	msg = meta.FindStatusCondition(got.Status.Conditions, dbv1.ConditionStalled).Message
	if !strings.Contains(msg, `"clientSecret"`) {
		t.Errorf("Stalled message %q, want it to name the missing key", msg)
	}
	rotateSecret(t, s, ns, "todo-auth0", "clientSecret", "now-here")
	s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "False/AsExpected")
	s.waitObject(t, ns, "todo", &appsv1.Deployment{})
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
}

func TestSecretCreatedLaterWithoutLabelsIsSeenAtOnce(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db, _ := exampleDatabase(ns)
	db.Spec.Auth = nil
	s.mustCreate(t, db)
	s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/"+ReasonSecretNotFound)

	// GitOps tools apply objects in no fixed order: the Secret comes 5 s after its Database,
	// without the labels of any convention. The suite's retry timer is an hour, so only the
	// metadata watch can bring the Database back.
	time.Sleep(5 * time.Second)
	created := time.Now()
	s.mustCreate(t, secret(ns, "todo-webkey", "key", "v1"))
	waitWebKey(t, s, ns, "v1")
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	t.Logf("reconciled %v after the Secret was created", time.Since(created).Round(time.Millisecond))

	// The operator does not own the Secret and leaves it as the user wrote it.
	sec := &corev1.Secret{}
	if err := s.get(ns, "todo-webkey", sec); err != nil {
		t.Fatal(err)
	}
	if len(sec.Labels) != 0 || len(sec.Annotations) != 0 || len(sec.OwnerReferences) != 0 {
		t.Errorf("the user's Secret was changed: labels %v annotations %v owners %v", sec.Labels, sec.Annotations, sec.OwnerReferences)
	}
	// A change reaches settings.json, and a deletion stalls the Database again, both through
	// the same watch.
	rotateSecret(t, s, ns, "todo-webkey", "key", "v2")
	waitWebKey(t, s, ns, "v2")
	if err := s.admin.Delete(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/"+ReasonSecretNotFound)
}

func TestSecretRotationRerendersSettingsAndKeepsGeneratedKeys(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	s.createExample(t, ns)
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	before := &corev1.Secret{}
	if err := s.get(ns, "todo-credentials", before); err != nil {
		t.Fatal(err)
	}

	rotateSecret(t, s, ns, "todo-webkey", "key", "web-key-value-2")
	waitWebKey(t, s, ns, "web-key-value-2")

	// A user rotates the generated API key by editing the Secret; a later reconcile (forced
	// here by a spec change) must keep the new value and the untouched signing key.
	rotateSecret(t, s, ns, "todo-credentials", "api-key", "rotated-by-hand")
	s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
		db.Spec.CORS.AllowedOrigins = append(db.Spec.CORS.AllowedOrigins, "https://admin.example.com")
	})
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	after := &corev1.Secret{}
	if err := s.get(ns, "todo-credentials", after); err != nil {
		t.Fatal(err)
	}
	if string(after.Data["api-key"]) != "rotated-by-hand" {
		t.Errorf("api-key = %q, want the user's rotation kept", after.Data["api-key"])
	}
	if string(after.Data["signing-key"]) != string(before.Data["signing-key"]) {
		t.Error("signing-key changed; generated keys must never be overwritten")
	}

	// A generated key deleted by hand is generated again; the other, rotated, key stays.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec := &corev1.Secret{}
		if err := s.get(ns, "todo-credentials", sec); err != nil {
			return err
		}
		delete(sec.Data, "signing-key")
		return s.admin.Update(context.Background(), sec)
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "signing-key generated again", func() error {
		sec := &corev1.Secret{}
		if err := s.get(ns, "todo-credentials", sec); err != nil {
			return err
		}
		k := string(sec.Data["signing-key"])
		if len(k) < 64 || k == string(before.Data["signing-key"]) {
			return fmt.Errorf("signing-key %q, want a fresh generated key", k)
		}
		if string(sec.Data["api-key"]) != "rotated-by-hand" {
			return fmt.Errorf("api-key %q, want the user's rotation kept", sec.Data["api-key"])
		}
		return nil
	})
}

func rotateSecret(t *testing.T, s *suite, ns, name, key, value string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec := &corev1.Secret{}
		if err := s.get(ns, name, sec); err != nil {
			return err
		}
		sec.Data[key] = []byte(value)
		return s.admin.Update(context.Background(), sec)
	})
	if err != nil {
		t.Fatalf("rotating %s/%s: %v", name, key, err)
	}
}

// updateDatabase changes ns/name's spec with mutate, retrying when the operator's status write
// got in between, and returns the updated Database.
func (s *suite) updateDatabase(t *testing.T, ns, name string, mutate func(*dbv1.Database)) *dbv1.Database {
	t.Helper()
	db := &dbv1.Database{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := s.get(ns, name, db); err != nil {
			return err
		}
		mutate(db)
		return s.admin.Update(context.Background(), db)
	})
	if err != nil {
		t.Fatalf("updating Database %s: %v", name, err)
	}
	return db
}

func waitWebKey(t *testing.T, s *suite, ns, want string) {
	t.Helper()
	eventually(t, "settings.json carries the rotated web key", func() error {
		sec := &corev1.Secret{}
		if err := s.get(ns, "todo-settings", sec); err != nil {
			return err
		}
		var st settings.Settings
		if err := json.Unmarshal(sec.Data["settings.json"], &st); err != nil {
			return err
		}
		if len(st.APIKeys.Web) != 1 || st.APIKeys.Web[0].Key != want {
			return fmt.Errorf("web keys %+v", st.APIKeys.Web)
		}
		return nil
	})
}

func TestSpecChangeUpdatesTheDeployment(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	s.createExample(t, ns)
	s.waitObject(t, ns, "todo", &appsv1.Deployment{})
	s.markAvailable(t, ns, "todo")
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "True/Available")

	s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
		db.Spec.Image = "registry.local/restkube:2"
		db.Spec.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("200M")
	})
	eventually(t, "the Deployment follows the spec", func() error {
		d := &appsv1.Deployment{}
		if err := s.get(ns, "todo", d); err != nil {
			return err
		}
		c := d.Spec.Template.Spec.Containers[0]
		limit := c.Resources.Limits[corev1.ResourceMemory]
		if c.Image != "registry.local/restkube:2" || limit.String() != "200M" {
			return fmt.Errorf("image %q memory limit %s", c.Image, limit.String())
		}
		for _, e := range c.Env {
			if e.Name == "GOMEMLIMIT" && e.Value == "180000000" {
				return nil
			}
		}
		return fmt.Errorf("env %+v, want GOMEMLIMIT=180000000", c.Env)
	})
	// The new generation is not available until the Deployment controller says so.
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
	s.markAvailable(t, ns, "todo")
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "True/Available")
}

func TestDeletionPolicies(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	db := s.createExample(t, ns, func(db *dbv1.Database) { db.Spec.Storage.DeletionPolicy = dbv1.DeletionPolicyDelete })

	claimOwners := func() ([]metav1.OwnerReference, error) {
		pvc := &corev1.PersistentVolumeClaim{}
		err := s.get(ns, "todo-data", pvc)
		return pvc.OwnerReferences, err
	}
	eventually(t, "under Delete the claim is owned by the Database", func() error {
		refs, err := claimOwners()
		if err != nil {
			return err
		}
		if !hasControllerRef(refs, db) {
			return fmt.Errorf("owners %+v", refs)
		}
		return nil
	})
	for name, obj := range map[string]client.Object{
		"todo-credentials": &corev1.Secret{}, "todo-settings": &corev1.Secret{},
		"todo": &appsv1.Deployment{}, "todo-svc": &corev1.Service{},
	} {
		if name == "todo-svc" {
			name = "todo"
		}
		s.waitObject(t, ns, name, obj)
		if !hasControllerRef(obj.GetOwnerReferences(), db) {
			t.Errorf("%T %s owners %+v, want the Database, so it is deleted with it", obj, name, obj.GetOwnerReferences())
		}
	}

	// Switching to Retain drops the claim's owner reference: deleting the Database now keeps it.
	cur := s.updateDatabase(t, ns, "todo", func(db *dbv1.Database) {
		db.Spec.Storage.DeletionPolicy = dbv1.DeletionPolicyRetain
	})
	eventually(t, "under Retain the claim has no owner", func() error {
		refs, err := claimOwners()
		if err != nil {
			return err
		}
		if len(refs) != 0 {
			return fmt.Errorf("owners %+v", refs)
		}
		return nil
	})
	if err := s.admin.Delete(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Database is gone", func() error {
		err := s.get(ns, "todo", &dbv1.Database{})
		if err == nil {
			return fmt.Errorf("still there")
		}
		return client.IgnoreNotFound(err)
	})

	// envtest has no garbage collector: do its work, deleting what the old Database owned.
	s.collectGarbage(t, ns, cur.UID)
	if _, err := claimOwners(); err != nil {
		t.Fatalf("the retained claim is gone: %v", err)
	}

	// A new Database of the same name adopts the retained claim, with its data.
	again, _ := exampleDatabase(ns)
	again.Spec.Storage.Size = ptr.To(resource.MustParse("1Gi"))
	again.Spec.Storage.DeletionPolicy = dbv1.DeletionPolicyDelete
	s.mustCreate(t, again)
	eventually(t, "the new Database owns the adopted claim", func() error {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := s.get(ns, "todo-data", pvc); err != nil {
			return err
		}
		if !hasControllerRef(pvc.OwnerReferences, again) {
			return fmt.Errorf("owners %+v, want the new Database (uid %s)", pvc.OwnerReferences, again.UID)
		}
		if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "2Gi" {
			return fmt.Errorf("size %s, want the adopted claim's 2Gi kept", got.String())
		}
		return nil
	})
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "False/Progressing")
}

// collectGarbage deletes the objects in ns whose owner references name uid, as the garbage
// collector of a real cluster would.
func (s *suite) collectGarbage(t *testing.T, ns string, uid types.UID) {
	t.Helper()
	ctx := context.Background()
	lists := []client.ObjectList{&corev1.SecretList{}, &corev1.ServiceList{}, &corev1.PersistentVolumeClaimList{}, &appsv1.DeploymentList{}}
	for _, l := range lists {
		if err := s.admin.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			obj := it.(client.Object)
			for _, ref := range obj.GetOwnerReferences() {
				if ref.UID == uid {
					if err := s.admin.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

func TestSettingsTheDbserverWouldRefuseStallAndKeepTheLastGoodOnes(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	s.createExample(t, ns)
	waitWebKey(t, s, ns, "web-key-value-1")
	s.markAvailable(t, ns, "todo")
	s.waitCondition(t, ns, "todo", dbv1.ConditionReady, "True/Available")
	before := &corev1.Secret{}
	if err := s.get(ns, "todo-settings", before); err != nil {
		t.Fatal(err)
	}

	// The CRD cannot see a Secret's value; settings.Validate refuses a blank key.
	rotateSecret(t, s, ns, "todo-webkey", "key", "   ")
	got := s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "True/"+ReasonInvalidSettings)
	msg := meta.FindStatusCondition(got.Status.Conditions, dbv1.ConditionStalled).Message
	if !strings.Contains(msg, "spec.apiKeys.web[0].secretRef") || !strings.Contains(msg, "must not be empty") {
		t.Errorf("Stalled message %q, want it to name the field and the rule", msg)
	}
	s.waitEvent(t, ns, "todo", corev1.EventTypeWarning, ReasonInvalidSettings, "spec.apiKeys.web[0].secretRef")
	after := &corev1.Secret{}
	if err := s.get(ns, "todo-settings", after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || string(after.Data[keySettings]) != string(before.Data[keySettings]) {
		t.Error("settings.json was rewritten with settings the dbserver refuses; the running dbserver must keep its last good ones")
	}

	// Fixed, the Database carries on.
	rotateSecret(t, s, ns, "todo-webkey", "key", "web-key-value-2")
	waitWebKey(t, s, ns, "web-key-value-2")
	s.waitCondition(t, ns, "todo", dbv1.ConditionStalled, "False/AsExpected")
}
