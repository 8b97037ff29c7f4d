package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
)

// One validation truth: the dbserver's settings.Validate decides what a settings.json may hold,
// and the CRD must refuse every spec whose settings it would refuse, so that `kubectl apply`
// names the field instead of a dbserver failing to start. Each row of agreementCases is fed to
// three judges, which must agree with the row's verdict:
//
//  1. the API server, with the CRD as `make manifests` generated it (a dry-run create);
//  2. settings.Validate on the row's settings.json fragment;
//  3. settings.Validate on what the controller renders from the row's spec (settingsFor), which
//     is the check the controller runs before it writes <name>-settings.
//
// To add a row (for a new spec field): write the spec fragment as YAML under `spec:` and the
// settings.json it stands for, and say whether the dbserver accepts it. If the CRD cannot see
// the rule — the value comes from a referenced Secret, or CEL cannot say it exactly — set
// crdBlind to the reason: the API server must then accept the spec and the controller refuse
// it (Stalled, reason InvalidSettings). If the CRD refuses more than the dbserver on purpose,
// set crdStricter to the reason. Referenced Secrets hold "a-web-key" unless values says
// otherwise (Secret name → value).
type agreementCase struct {
	spec        string
	settings    string
	wantValid   bool
	crdBlind    string
	crdStricter string
	values      map[string]string
}

var agreementCases = map[string]agreementCase{
	"the README's example": {
		spec: `{storage: {size: 1Gi}, auth: {enabled: true, tokenTTL: 1h, defaultRoles: [external],
			auth0: {domain: example.eu.auth0.com, clientID: Zx9, secretRef: {name: todo-auth0, key: clientSecret}}},
			apiKeys: {web: [{name: site, secretRef: {name: todo-webkey, key: key}, paths: ["/tasks/**"], methods: [GET, POST], origins: ["https://todo.example.com"]}]},
			cors: {allowedOrigins: ["https://todo.example.com"]},
			collections: [{name: tasks, indexes: [done, due], private: true, access: {external: {read: true, write: true}}}],
			limits: {maxBodyBytes: 1048576, maxPageSize: 10000}}`,
		settings: `{"auth": {"enabled": true, "tokenTTL": "1h0m0s", "defaultRoles": ["external"], "auth0": {"domain": "example.eu.auth0.com", "clientID": "Zx9"}},
			"apiKeys": {"web": [{"name": "site", "key": "a-web-key", "paths": ["/tasks/**"], "methods": ["GET", "POST"], "origins": ["https://todo.example.com"]}]},
			"cors": {"allowedOrigins": ["https://todo.example.com"]},
			"collections": [{"name": "tasks", "indexes": ["done", "due"], "private": true, "access": {"external": {"read": true, "write": true}}}],
			"limits": {"maxBodyBytes": 1048576, "maxPageSize": 10000}}`,
		wantValid: true,
	},
	"a collection name starting with a digit (1tasks)": {
		spec: `{collections: [{name: 1tasks}]}`, settings: `{"collections": [{"name": "1tasks"}]}`,
	},
	"a collection name with a dot": {
		spec: `{collections: [{name: a.b}]}`, settings: `{"collections": [{"name": "a.b"}]}`,
	},
	"a collection name of 64 characters": {
		spec:      `{collections: [{name: a` + strings.Repeat("b", 63) + `}]}`,
		settings:  `{"collections": [{"name": "a` + strings.Repeat("b", 63) + `"}]}`,
		wantValid: true,
	},
	"a collection name of 65 characters": {
		spec:     `{collections: [{name: a` + strings.Repeat("b", 64) + `}]}`,
		settings: `{"collections": [{"name": "a` + strings.Repeat("b", 64) + `"}]}`,
	},
	"a collection name with - and _": {
		spec: `{collections: [{name: to-do_2}]}`, settings: `{"collections": [{"name": "to-do_2"}]}`, wantValid: true,
	},
	"an index path $where": {
		spec: `{collections: [{name: tasks, indexes: [$where]}]}`, settings: `{"collections": [{"name": "tasks", "indexes": ["$where"]}]}`,
	},
	"an index path with an empty segment": {
		spec: `{collections: [{name: tasks, indexes: [a..b]}]}`, settings: `{"collections": [{"name": "tasks", "indexes": ["a..b"]}]}`,
	},
	"an index path ending with a dot": {
		spec: `{collections: [{name: tasks, indexes: [a.]}]}`, settings: `{"collections": [{"name": "tasks", "indexes": ["a."]}]}`,
	},
	"an index path starting with a dot": {
		spec: `{collections: [{name: tasks, indexes: [.a]}]}`, settings: `{"collections": [{"name": "tasks", "indexes": [".a"]}]}`,
	},
	"a nested index path": {
		spec:      `{collections: [{name: tasks, indexes: [owner.name, "due$"]}]}`,
		settings:  `{"collections": [{"name": "tasks", "indexes": ["owner.name", "due$"]}]}`,
		wantValid: true,
	},
	"a blank role in a collection's access": {
		spec:     `{collections: [{name: tasks, access: {" ": {read: true}}}]}`,
		settings: `{"collections": [{"name": "tasks", "access": {" ": {"read": true}}}]}`,
	},
	"a web-key path without the leading slash (tasks/**)": {
		spec:     `{apiKeys: {web: [{name: site, secretRef: {name: w, key: k}, paths: ["tasks/**"]}]}}`,
		settings: `{"apiKeys": {"web": [{"name": "site", "key": "a-web-key", "paths": ["tasks/**"]}]}}`,
	},
	"a web-key method outside the list": {
		spec:     `{apiKeys: {web: [{name: site, secretRef: {name: w, key: k}, methods: [TRACE]}]}}`,
		settings: `{"apiKeys": {"web": [{"name": "site", "key": "a-web-key", "methods": ["TRACE"]}]}}`,
	},
	"a web-key origin with a path": {
		spec:     `{apiKeys: {web: [{name: site, secretRef: {name: w, key: k}, origins: ["https://a.example.com/app"]}]}}`,
		settings: `{"apiKeys": {"web": [{"name": "site", "key": "a-web-key", "origins": ["https://a.example.com/app"]}]}}`,
	},
	"a web key whose Secret holds only spaces": {
		spec:     `{apiKeys: {web: [{name: site, secretRef: {name: w, key: k}}]}}`,
		settings: `{"apiKeys": {"web": [{"name": "site", "key": "   "}]}}`,
		values:   map[string]string{"w": "   "},
		crdBlind: "the key's value comes from a Secret, which the API server does not see",
	},
	"an origin without a scheme (example.com)": {
		spec: `{cors: {allowedOrigins: [example.com]}}`, settings: `{"cors": {"allowedOrigins": ["example.com"]}}`,
	},
	"an origin with a query": {
		spec: `{cors: {allowedOrigins: ["https://a.example.com?x=1"]}}`, settings: `{"cors": {"allowedOrigins": ["https://a.example.com?x=1"]}}`,
	},
	"an origin of another scheme": {
		spec: `{cors: {allowedOrigins: ["ftp://a.example.com"]}}`, settings: `{"cors": {"allowedOrigins": ["ftp://a.example.com"]}}`,
	},
	"origins with a port, a trailing slash, and *": {
		spec:      `{cors: {allowedOrigins: ["http://localhost:8080", "https://a.example.com/", "*"]}}`,
		settings:  `{"cors": {"allowedOrigins": ["http://localhost:8080", "https://a.example.com/", "*"]}}`,
		wantValid: true,
	},
	"an origin with an invalid escape in its host": {
		spec:     `{cors: {allowedOrigins: ["https://a%zz.example.com"]}}`,
		settings: `{"cors": {"allowedOrigins": ["https://a%zz.example.com"]}}`,
		crdBlind: "the CRD's origin pattern does not parse URL escapes; net/url does",
	},
	"a blank default role": {
		spec: `{auth: {defaultRoles: [" "]}}`, settings: `{"auth": {"tokenTTL": "1h0m0s", "defaultRoles": [" "]}}`,
	},
	"a default role of a non-breaking space": {
		spec:     "{auth: {defaultRoles: [\"\u00a0\"]}}",
		settings: "{\"auth\": {\"tokenTTL\": \"1h0m0s\", \"defaultRoles\": [\"\u00a0\"]}}",
		crdBlind: `the CRD's \S is ASCII (RE2); strings.TrimSpace also trims Unicode spaces`,
	},
	"console roles": {
		spec:     `{console: {enabled: true, roles: [admin, support]}}`,
		settings: `{"console": {"enabled": true, "roles": ["admin", "support"]}}`, wantValid: true,
	},
	"a blank console role": {
		spec: `{console: {enabled: true, roles: [" "]}}`, settings: `{"console": {"enabled": true, "roles": [" "]}}`,
	},
	"auth enabled without a provider": {
		spec: `{auth: {enabled: true}}`, settings: `{"auth": {"enabled": true, "tokenTTL": "1h0m0s"}}`,
	},
	"auth enabled with an issuer and no client ID": {
		spec:     `{auth: {enabled: true, auth0: {issuer: "https://idp.example.com/", secretRef: {name: a, key: k}}}}`,
		settings: `{"auth": {"enabled": true, "tokenTTL": "1h0m0s", "auth0": {"issuer": "https://idp.example.com/"}}}`,
	},
	"auth enabled with an issuer": {
		spec:      `{auth: {enabled: true, auth0: {issuer: "http://127.0.0.1:9999/", clientID: c, secretRef: {name: a, key: k}}}}`,
		settings:  `{"auth": {"enabled": true, "tokenTTL": "1h0m0s", "auth0": {"issuer": "http://127.0.0.1:9999/", "clientID": "c"}}}`,
		wantValid: true,
	},
	"a media limit above 1 TiB": {
		spec:     `{limits: {maxMediaBytes: 1099511627777}}`,
		settings: `{"limits": {"maxMediaBytes": 1099511627777}}`,
	},
	"a negative media limit": {
		spec: `{limits: {maxMediaBytes: -1}}`, settings: `{"limits": {"maxMediaBytes": -1}}`,
	},
	"a media limit of 1 TiB": {
		spec:      `{limits: {maxMediaBytes: 1099511627776}}`,
		settings:  `{"limits": {"maxMediaBytes": 1099511627776}}`,
		wantValid: true,
	},
	"a token lifetime of one second": {
		spec:        `{auth: {tokenTTL: 1s}}`,
		settings:    `{"auth": {"tokenTTL": "1s"}}`,
		wantValid:   true,
		crdStricter: "the CRD bounds tokenTTL to 1m–720h; the dbserver takes any positive duration (its tests use short ones)",
	},
}

func TestCRDAndSettingsValidateAgree(t *testing.T) {
	// The settings judges run everywhere; the API server's only where envtest can start.
	s, ns := testSuite, "agree"
	if s != nil {
		ns = s.namespace(t)
	}
	for name, tc := range agreementCases {
		t.Run(name, func(t *testing.T) {
			if tc.crdBlind != "" && tc.wantValid {
				t.Fatal("a crdBlind row is one the dbserver refuses: wantValid must be false")
			}
			if tc.crdStricter != "" && !tc.wantValid {
				t.Fatal("a crdStricter row is one the dbserver accepts: wantValid must be true")
			}
			// 2. settings.Validate on the settings.json fragment.
			if err := validateSettingsJSON(tc.settings); (err == nil) != tc.wantValid {
				t.Errorf("settings.Validate(%s) = %v, want valid=%v", tc.settings, err, tc.wantValid)
			}
			// 3. settings.Validate on what the controller renders from the spec.
			db := databaseFromSpec(t, ns, tc.spec)
			values := secretValues{}
			for _, ref := range db.SecretRefs() {
				v, ok := tc.values[ref.Ref.Name]
				if !ok {
					v = "a-web-key"
				}
				values[ref.Ref] = []byte(v)
			}
			rendered, st := renderSettings(db, values)
			if (st == nil) != tc.wantValid {
				t.Errorf("the controller's check of the rendered settings: stall %+v, want valid=%v", st, tc.wantValid)
			}
			if st != nil && (st.Reason != ReasonInvalidSettings || !strings.Contains(st.Message, "spec.")) {
				t.Errorf("stall %+v, want reason %s and a message naming a spec field", st, ReasonInvalidSettings)
			}
			if tc.wantValid {
				// The fragment is the rendering: the row documents what the spec becomes.
				if err := sameSettings(rendered, tc.settings); err != nil {
					t.Errorf("the spec renders to other settings than the row's: %v", err)
				}
			}
			// 1. The API server with the generated CRD.
			if s == nil {
				t.Skip(skipReason)
			}
			err := s.admin.Create(context.Background(), databaseFromYAML(t, ns, "agree", indent(tc.spec)), client.DryRunAll)
			wantCRD := tc.wantValid && tc.crdStricter == "" || tc.crdBlind != ""
			switch {
			case wantCRD && err != nil:
				t.Errorf("the API server refused the spec: %v", err)
			case !wantCRD && err == nil:
				t.Errorf("the API server accepted a spec the dbserver refuses; add the rule to the CRD (or mark the row crdBlind with the reason)")
			case err != nil:
				t.Logf("API server: %v", err)
			}
		})
	}
}

// validateSettingsJSON decodes a settings.json fragment strictly and runs settings.Validate.
func validateSettingsJSON(raw string) error {
	var st settings.Settings
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("test row: settings fragment does not decode: %w", err)
	}
	return st.Validate()
}

// sameSettings reports whether s is the settings.json document want.
func sameSettings(s settings.Settings, want string) error {
	var w settings.Settings
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return err
	}
	if w.Console == nil {
		// The controller always writes the console switch (off unless spec.console.enabled);
		// a row that does not mention the console means that default.
		w.Console = &settings.Console{Enabled: ptr.To(false)}
	}
	if !reflect.DeepEqual(s, w) {
		got, _ := json.Marshal(s)
		norm, _ := json.Marshal(w)
		return errors.New("rendered " + string(got) + ", row says " + string(norm))
	}
	return nil
}

// databaseFromSpec decodes a spec fragment into a typed Database, with the CRD's defaults the
// renderer relies on (auth.tokenTTL).
func databaseFromSpec(t *testing.T, ns, spec string) *dbv1.Database {
	t.Helper()
	db := &dbv1.Database{}
	db.Name, db.Namespace = "agree", ns
	if err := yaml.UnmarshalStrict([]byte(untab(spec)), &db.Spec); err != nil {
		t.Fatalf("test row: spec fragment does not decode: %v", err)
	}
	if a := db.Spec.Auth; a != nil && a.TokenTTL == nil {
		a.TokenTTL = &metav1.Duration{Duration: time.Hour} // the CRD's default
	}
	return db
}

// indent puts a one-document YAML fragment under `spec:`.
func indent(spec string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(untab(spec)), "\n", "\n  ") + "\n"
}

// untab turns the tabs of Go-indented continuation lines into spaces, which YAML requires.
func untab(s string) string { return strings.ReplaceAll(s, "\t", "  ") }
