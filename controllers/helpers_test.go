package controllers

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// newTestDatabase returns a Database with every optional part of the spec set, the way the
// README's example writes it; tests switch parts off as they need.
func newTestDatabase() *dbv1.Database {
	size := resource.MustParse("2Gi")
	return &dbv1.Database{
		ObjectMeta: metav1.ObjectMeta{Name: "todo", Namespace: "apps", UID: types.UID("uid-1"), Generation: 3},
		Spec: dbv1.DatabaseSpec{
			Storage: dbv1.StorageSpec{Size: &size, StorageClassName: ptr.To("standard"), DeletionPolicy: dbv1.DeletionPolicyRetain},
			Auth: &dbv1.AuthSpec{
				Enabled:  true,
				TokenTTL: &metav1.Duration{Duration: 3600e9},
				Auth0: &dbv1.Auth0Spec{
					Domain:    "example.eu.auth0.com",
					ClientID:  "client-1",
					SecretRef: dbv1.SecretKeyRef{Name: "todo-auth0", Key: "clientSecret"},
				},
			},
			APIKeys: &dbv1.APIKeysSpec{Web: []dbv1.WebKeySpec{{
				Name:      "site",
				SecretRef: dbv1.SecretKeyRef{Name: "todo-webkey", Key: "key"},
				Paths:     []string{"/tasks/**"},
				Methods:   []dbv1.HTTPMethod{"GET", "POST"},
				Origins:   []string{"https://todo.example.com"},
			}}},
			CORS: &dbv1.CORSSpec{AllowedOrigins: []string{"https://todo.example.com"}},
			Collections: []dbv1.CollectionSpec{{
				Name: "tasks", Indexes: []string{"done", "due"}, Private: true,
				Access: map[string]dbv1.RightsSpec{"external": {Read: true, Write: true}},
			}},
		},
	}
}

// hasControllerRef reports whether refs name db as controller.
func hasControllerRef(refs []metav1.OwnerReference, db *dbv1.Database) bool {
	for _, r := range refs {
		if r.UID == db.UID && r.Kind == "Database" && r.Name == db.Name && r.Controller != nil && *r.Controller {
			return true
		}
	}
	return false
}
