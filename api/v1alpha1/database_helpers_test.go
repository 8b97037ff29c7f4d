package v1alpha1

import (
	"reflect"
	"testing"
)

func TestReferencedSecretNames(t *testing.T) {
	cases := map[string]struct {
		spec DatabaseSpec
		want []string
	}{
		"a spec naming no Secret references none": {
			spec: DatabaseSpec{},
			want: nil,
		},
		"every kind of reference is listed once, in spec order": {
			spec: DatabaseSpec{
				APIKeys: &APIKeysSpec{
					SecretRef: &SecretKeyRef{Name: "keys", Key: "api-key"},
					Web: []WebKeySpec{
						{Name: "site", SecretRef: SecretKeyRef{Name: "web", Key: "a"}},
						{Name: "admin", SecretRef: SecretKeyRef{Name: "keys", Key: "b"}},
					},
				},
				Auth: &AuthSpec{Auth0: &Auth0Spec{SecretRef: SecretKeyRef{Name: "auth0", Key: "clientSecret"}}},
			},
			want: []string{"keys", "web", "auth0"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := &Database{Spec: tc.spec}
			if got := db.ReferencedSecretNames(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ReferencedSecretNames() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretRefsNameTheField(t *testing.T) {
	db := &Database{Spec: DatabaseSpec{APIKeys: &APIKeysSpec{Web: []WebKeySpec{
		{Name: "site", SecretRef: SecretKeyRef{Name: "web", Key: "k"}},
	}}}}
	refs := db.SecretRefs()
	if len(refs) != 1 || refs[0].Field != "spec.apiKeys.web[site].secretRef" {
		t.Fatalf("SecretRefs() = %+v, want one ref for spec.apiKeys.web[site].secretRef", refs)
	}
}
