package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestChartIsInSync fails when config/ changed (`make manifests`) and `make helm` was not run.
func TestChartIsInSync(t *testing.T) {
	files, err := Generate(filepath.Join("..", "..", "config"))
	if err != nil {
		t.Fatal(err)
	}
	stale, err := Diff(filepath.Join("..", "..", "charts", "restkube"), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("charts/restkube is out of date with config/ (run `make helm`): %v", stale)
	}
}

const clusterRole = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
  labels:
    app.kubernetes.io/name: restkube-operator
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
`

func TestRoleTemplate(t *testing.T) {
	src := RoleSource{File: "role.yaml", Kind: "ClusterRole", Template: "clusterrole.yaml", Suffix: "manager", Condition: ".Values.rbac.create"}
	cases := map[string]struct {
		src     RoleSource
		in      string
		want    []string
		wantErr string
	}{
		"rules and aggregation labels are copied, the name comes from the chart": {
			src: src, in: clusterRole,
			want: []string{
				"{{- if .Values.rbac.create }}\n",
				"kind: ClusterRole\n",
				`name: {{ include "restkube.fullname" . }}-manager`,
				`rbac.authorization.k8s.io/aggregate-to-view: "true"`,
				"rules:\n- apiGroups:\n  - \"\"\n  resources:\n  - secrets\n  verbs:\n  - get\n  - list\n{{- end }}\n",
			},
		},
		"a Role is put in the release namespace": {
			src:  RoleSource{File: "le.yaml", Kind: "Role", Template: "le.yaml", Suffix: "le", Condition: "true"},
			in:   strings.Replace(clusterRole, "kind: ClusterRole", "kind: Role", 1),
			want: []string{"kind: Role\n", "  namespace: {{ .Release.Namespace }}\n"},
		},
		"another kind than expected is refused": {
			src: src, in: strings.Replace(clusterRole, "kind: ClusterRole", "kind: Role", 1),
			wantErr: "want ClusterRole",
		},
		"a second document is refused rather than dropped": {
			src: src, in: clusterRole + clusterRole,
			wantErr: "found 2 documents",
		},
		"a role without rules is refused": {
			src: src, in: strings.Split(clusterRole, "rules:")[0],
			wantErr: "no rules",
		},
		"a typo in the source is refused": {
			src: src, in: strings.Replace(clusterRole, "verbs:", "verb:", 1),
			wantErr: "unknown field",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := RoleTemplate(tc.src, []byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(string(got), "app.kubernetes.io/name: restkube-operator") {
				t.Errorf("kustomize's labels leaked into the chart:\n%s", got)
			}
		})
	}
}

const crd = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.23.0
  name: widgets.example.test
spec:
  group: example.test
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: |-
          A widget. Templates such as {{ .Name }} are text here.
        type: object
`

func TestCRDTemplate(t *testing.T) {
	name, got, err := CRDTemplate([]byte(crd), "config/crd/bases/w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if name != "templates/crd-widgets.yaml" {
		t.Errorf("path = %q", name)
	}
	for _, w := range []string{
		"{{- if .Values.crds.create }}\n",
		"    controller-gen.kubebuilder.io/version: v0.23.0\n    helm.sh/resource-policy: keep\n",
		"  name: widgets.example.test\n",
		`{{- include "restkube.labels" . | nindent 4 }}`,
		"\n  group: example.test\n",
		`Templates such as {{ "{{" }} .Name }} are text here.`,
		"{{- end }}\n",
	} {
		if !strings.Contains(string(got), w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}

	for what, in := range map[string]string{
		"not a CRD":           strings.Replace(crd, "kind: CustomResourceDefinition", "kind: ConfigMap", 1),
		"two CRDs in a file":  crd + crd,
		"unexpected metadata": strings.Replace(crd, "  name: widgets", "  namespace: x\n  name: widgets", 1),
	} {
		if _, _, err := CRDTemplate([]byte(in), "x"); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}

func TestWriteChartRemovesStaleCRDsAndDiffSeesThem(t *testing.T) {
	chart := t.TempDir()
	if err := os.MkdirAll(filepath.Join(chart, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(chart, "templates", "crd-gadgets.yaml")
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"templates/crd-widgets.yaml": []byte("new\n"), "templates/clusterrole.yaml": []byte("role\n")}

	diff, err := Diff(chart, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"templates/clusterrole.yaml", "templates/crd-gadgets.yaml", "templates/crd-widgets.yaml"}
	if !slices.Equal(diff, want) {
		t.Errorf("Diff = %v, want %v", diff, want)
	}

	if err := WriteChart(chart, files); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale CRD template still there: %v", err)
	}
	diff, err = Diff(chart, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 0 {
		t.Errorf("after WriteChart, Diff = %v, want none", diff)
	}
}
