package controllers

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// databaseFromYAML returns a Database in ns with the given spec, written as YAML so tests can
// send what a typed client cannot (unknown enum values, omitted fields).
func databaseFromYAML(t *testing.T, ns, name, spec string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	doc := "apiVersion: db.restkube.dev/v1alpha1\nkind: Database\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	return u
}

func TestCRDRejectsBadSpecsWithReadableMessages(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	cases := map[string]struct {
		spec string
		want string // part of the API server's message
	}{
		"auth enabled without Auth0": {
			spec: "  auth: {enabled: true}\n",
			want: "auth.enabled requires auth.auth0 with domain or issuer, clientID and secretRef",
		},
		"Auth0 without domain or issuer": {
			spec: "  auth: {enabled: true, auth0: {clientID: c, secretRef: {name: s, key: k}}}\n",
			want: "auth.auth0 needs domain or issuer",
		},
		"Auth0 without clientID": {
			spec: "  auth: {auth0: {domain: a.example.com, secretRef: {name: s, key: k}}}\n",
			want: "spec.auth.auth0.clientID: Required value",
		},
		"an issuer that is not an http URL": {
			spec: "  auth: {auth0: {issuer: 'ftp://idp', clientID: c, secretRef: {name: s, key: k}}}\n",
			want: "auth.auth0.issuer must be an http(s) URL",
		},
		"a token lifetime of one second": {
			spec: "  auth: {tokenTTL: 1s}\n",
			want: "auth.tokenTTL must be between 1m and 720h",
		},
		"an unknown deletion policy": {
			spec: "  storage: {deletionPolicy: Keep}\n",
			want: `spec.storage.deletionPolicy: Unsupported value: "Keep"`,
		},
		"a zero size": {
			spec: "  storage: {size: '0'}\n",
			want: "storage.size must be positive",
		},
		"a web key method outside the list": {
			spec: "  apiKeys: {web: [{name: site, secretRef: {name: s, key: k}, methods: [TRACE]}]}\n",
			want: `Unsupported value: "TRACE"`,
		},
		"a secretRef without a key": {
			spec: "  apiKeys: {secretRef: {name: s}}\n",
			want: "spec.apiKeys.secretRef.key: Required value",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := databaseFromYAML(t, ns, "bad", tc.spec)
			err := s.admin.Create(context.Background(), u, client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted %q", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCRDDefaults(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	// auth without enabled must be accepted: the CEL rule guards the optional field.
	u := databaseFromYAML(t, ns, "minimal", "  auth: {defaultRoles: [external]}\n")
	if err := s.admin.Create(context.Background(), u, client.DryRunAll); err != nil {
		t.Fatalf("a minimal Database was rejected: %v", err)
	}
	db := &dbv1.Database{}
	if err := s.scheme.Convert(u, db, nil); err != nil {
		t.Fatal(err)
	}
	if db.Spec.Storage.Size == nil || db.Spec.Storage.Size.String() != "1Gi" {
		t.Errorf("storage.size = %v, want the default 1Gi", db.Spec.Storage.Size)
	}
	if db.Spec.Storage.DeletionPolicy != dbv1.DeletionPolicyRetain {
		t.Errorf("deletionPolicy = %q, want the default Retain", db.Spec.Storage.DeletionPolicy)
	}
	if db.Spec.Auth == nil || db.Spec.Auth.Enabled || db.Spec.Auth.TokenTTL == nil || db.Spec.Auth.TokenTTL.Duration.String() != "1h0m0s" {
		t.Errorf("auth = %+v, want enabled false and tokenTTL 1h by default", db.Spec.Auth)
	}
}

func TestCRDTransitionRules(t *testing.T) {
	s := envOrSkip(t)
	ns := s.namespace(t)
	u := databaseFromYAML(t, ns, "grow", "  storage: {size: 2Gi, storageClassName: standard}\n")
	if err := s.admin.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		field []string
		value string
		want  string // "" means accepted
	}{
		"shrinking is refused":             {field: []string{"spec", "storage", "size"}, value: "1Gi", want: "storage.size cannot shrink"},
		"the same size in other units":     {field: []string{"spec", "storage", "size"}, value: "2048Mi"},
		"growing is accepted":              {field: []string{"spec", "storage", "size"}, value: "3Gi"},
		"changing the class is refused":    {field: []string{"spec", "storage", "storageClassName"}, value: "fast", want: "storage.storageClassName is immutable"},
		"switching the policy is accepted": {field: []string{"spec", "storage", "deletionPolicy"}, value: "Delete"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Read it afresh, retrying on conflicts: the operator writes its status meanwhile.
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur := &unstructured.Unstructured{}
				cur.SetGroupVersionKind(u.GroupVersionKind())
				if err := s.admin.Get(context.Background(), client.ObjectKeyFromObject(u), cur); err != nil {
					return err
				}
				if err := unstructured.SetNestedField(cur.Object, tc.value, tc.field...); err != nil {
					return err
				}
				return s.admin.Update(context.Background(), cur, client.DryRunAll)
			})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("update refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("update to %s accepted, want %q", tc.value, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
