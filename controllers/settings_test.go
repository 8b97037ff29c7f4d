package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
	"k8s.io/utils/ptr"
)

func TestSettingsFor(t *testing.T) {
	values := secretValues{
		{Name: "todo-webkey", Key: "key"}:         []byte("web-secret-value"),
		{Name: "todo-auth0", Key: "clientSecret"}: []byte("never-in-settings"),
	}
	cases := map[string]struct {
		mutate func(*dbv1.Database)
		want   settings.Settings
	}{
		"an empty spec renders empty settings": {
			mutate: func(db *dbv1.Database) { db.Spec = dbv1.DatabaseSpec{} },
			want:   settings.Settings{Console: &settings.Console{Enabled: ptr.To(false)}},
		},
		"the full example renders every section, with the web key's value resolved": {
			mutate: func(db *dbv1.Database) {
				db.Spec.Auth.DefaultRoles = []string{"external"}
				db.Spec.Limits = &dbv1.LimitsSpec{MaxBodyBytes: ptr.To[int64](2048), MaxPageSize: ptr.To[int32](50), MaxMediaBytes: ptr.To[int64](1 << 30), MaxDocumentBytes: ptr.To[int32](4096)}
				db.Spec.Console = &dbv1.ConsoleSpec{Enabled: true, Roles: []string{"admin"}}
			},
			want: settings.Settings{
				Auth: settings.Auth{
					Enabled: true, TokenTTL: "1h0m0s", DefaultRoles: []string{"external"},
					Auth0: &settings.Auth0{Domain: "example.eu.auth0.com", ClientID: "client-1"},
				},
				APIKeys: settings.APIKeys{Web: []settings.WebKey{{
					Name: "site", Key: "web-secret-value", Paths: []string{"/tasks/**"},
					Methods: []string{"GET", "POST"}, Origins: []string{"https://todo.example.com"},
				}}},
				CORS: settings.CORS{AllowedOrigins: []string{"https://todo.example.com"}},
				Collections: []settings.Collection{{
					Name: "tasks", Indexes: []string{"done", "due"}, Private: true,
					Access: map[string]settings.Rights{"external": {Read: true, Write: true}},
				}},
				Limits:  settings.Limits{MaxBodyBytes: 2048, MaxPageSize: 50, MaxMediaBytes: 1 << 30, MaxDocumentBytes: 4096},
				Console: &settings.Console{Enabled: ptr.To(true), Roles: []string{"admin"}},
			},
		},
		"realtime and a web key's channels are rendered as written": {
			mutate: func(db *dbv1.Database) {
				db.Spec = dbv1.DatabaseSpec{
					Realtime: &dbv1.RealtimeSpec{Enabled: true, MaxSubscribers: ptr.To[int32](20), UserChannels: []string{"PUBLISH:chat"}},
					APIKeys: &dbv1.APIKeysSpec{Web: []dbv1.WebKeySpec{{
						Name: "site", SecretRef: dbv1.SecretKeyRef{Name: "todo-webkey", Key: "key"},
						Paths: []string{"/tasks/**"}, Channels: []string{"POST:tasks", "DELETE:*"},
					}}},
				}
			},
			want: settings.Settings{
				APIKeys: settings.APIKeys{Web: []settings.WebKey{{
					Name: "site", Key: "web-secret-value", Paths: []string{"/tasks/**"}, Channels: []string{"POST:tasks", "DELETE:*"},
				}}},
				Realtime: settings.Realtime{Enabled: true, MaxSubscribers: 20, UserChannels: []string{"PUBLISH:chat"}},
				Console:  &settings.Console{Enabled: ptr.To(false)},
			},
		},
		"an issuer is passed through for non-Auth0 providers": {
			mutate: func(db *dbv1.Database) {
				db.Spec = dbv1.DatabaseSpec{Auth: &dbv1.AuthSpec{Enabled: true, Auth0: &dbv1.Auth0Spec{
					Issuer: "http://127.0.0.1:9999/", ClientID: "c",
				}}}
			},
			want: settings.Settings{
				Auth:    settings.Auth{Enabled: true, Auth0: &settings.Auth0{Issuer: "http://127.0.0.1:9999/", ClientID: "c"}},
				Console: &settings.Console{Enabled: ptr.To(false)},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			tc.mutate(db)
			if got := settingsFor(db, values); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("settingsFor =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestSettingsSecretFor(t *testing.T) {
	db := newTestDatabase()
	values := secretValues{{Name: "todo-webkey", Key: "key"}: []byte("v")}
	s, err := settingsSecretFor(db, settingsFor(db, values))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "todo-settings" || !hasControllerRef(s.OwnerReferences, db) || s.Labels[labelManagedBy] != managedBy {
		t.Errorf("secret %s: owner %+v labels %v, want todo-settings owned by the Database and labelled as the operator's", s.Name, s.OwnerReferences, s.Labels)
	}
	if len(s.Data) != 1 {
		t.Errorf("data keys = %d, want only %s", len(s.Data), keySettings)
	}
	var decoded settings.Settings
	if err := json.Unmarshal(s.Data[keySettings], &decoded); err != nil {
		t.Fatalf("settings.json does not decode into settings.Settings: %v", err)
	}
	if !reflect.DeepEqual(decoded, settingsFor(db, values)) {
		t.Errorf("settings.json decodes to %+v, want what settingsFor renders", decoded)
	}
	again, _ := settingsSecretFor(db, settingsFor(db, values))
	if string(again.Data[keySettings]) != string(s.Data[keySettings]) {
		t.Error("rendering the same spec twice gave different bytes; an unchanged Database would rewrite its Secret")
	}
}

func TestInvalidSettingsNameTheSpecFields(t *testing.T) {
	db := newTestDatabase()
	db.Spec.Collections = append(db.Spec.Collections, dbv1.CollectionSpec{Name: "1tasks"})
	_, st := renderSettings(db, secretValues{{Name: "todo-webkey", Key: "key"}: []byte(" ")})
	if st == nil || st.Reason != ReasonInvalidSettings {
		t.Fatalf("stall = %+v, want %s", st, ReasonInvalidSettings)
	}
	for _, want := range []string{
		`spec.collections[1].name: "1tasks" must match`,
		"spec.apiKeys.web[0].secretRef (the Secret's value): must not be empty",
		"keeps its last good ones",
	} {
		if !strings.Contains(st.Message, want) {
			t.Errorf("message %q does not say %q", st.Message, want)
		}
	}
	if strings.Contains(st.Message, "\n") {
		t.Errorf("message %q spans lines; a condition message is one line", st.Message)
	}
	if _, st := renderSettings(newTestDatabase(), secretValues{{Name: "todo-webkey", Key: "key"}: []byte("k")}); st != nil {
		t.Errorf("the README's example stalls: %+v", st)
	}
}

// The CRD checks realtime channels with exactly the pattern settings.Validate uses, so that a
// Database the API server accepts never renders settings the dbserver refuses.
func TestCRDChannelPatternsAreTheSettingsPattern(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", "db.restkube.dev_databases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for path, list := range map[string]apiextensionsv1.JSONSchemaProps{
		"spec.apiKeys.web[].channels": spec.Properties["apiKeys"].Properties["web"].Items.Schema.Properties["channels"],
		"spec.realtime.userChannels":  spec.Properties["realtime"].Properties["userChannels"],
	} {
		if list.Items == nil || list.Items.Schema == nil || list.Items.Schema.Pattern != settings.ChannelPattern {
			t.Errorf("%s: items pattern is not settings.ChannelPattern %q", path, settings.ChannelPattern)
		}
		if list.MaxItems == nil || *list.MaxItems != settings.MaxChannels {
			t.Errorf("%s: maxItems is not settings.MaxChannels (%d)", path, settings.MaxChannels)
		}
	}
	max := spec.Properties["realtime"].Properties["maxSubscribers"]
	if max.Minimum == nil || *max.Minimum != 0 || max.Maximum == nil || *max.Maximum != settings.MaxMaxSubscribers {
		t.Errorf("spec.realtime.maxSubscribers bounds differ from settings.Validate's 0..%d", settings.MaxMaxSubscribers)
	}
}
