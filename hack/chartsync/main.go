// Command chartsync copies the generated and kustomize manifests into the Helm chart, so the
// chart grants exactly the RBAC that `kubectl apply -k config/default` grants (the manager's
// ClusterRole is what the controller's markers generate) and ships the same CRD:
//
//   - config/rbac/role.yaml (manager-role) → templates/clusterrole.yaml
//   - config/rbac/leader_election_role.yaml → templates/leader-election-role.yaml
//   - config/rbac/database_{editor,viewer}_role.yaml → templates/database-{editor,viewer}-clusterrole.yaml
//   - config/crd/bases/*.yaml → templates/crd-<plural>.yaml, gated by crds.create and annotated
//     helm.sh/resource-policy: keep.
//
// Rules and CRD specs are copied verbatim; names, namespaces and labels come from the chart.
// `make helm` runs it after `make manifests`; `-check` exits non-zero when the chart is stale.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// keepPolicy stops `helm uninstall` from deleting the CRD, which would delete every Database.
const keepPolicy = "helm.sh/resource-policy"

// crdPrefix names the generated CRD templates; files with it that match no CRD are stale.
const crdPrefix = "crd-"

func main() {
	configDir := flag.String("config", "config", "kustomize config directory (holds rbac/role.yaml and crd/bases)")
	chartDir := flag.String("chart", "charts/restkube", "chart directory")
	check := flag.Bool("check", false, "only report whether the chart is in sync; exit 1 if not")
	flag.Parse()

	files, err := Generate(*configDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartsync:", err)
		os.Exit(1)
	}
	if *check {
		stale, err := Diff(*chartDir, files)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chartsync:", err)
			os.Exit(1)
		}
		if len(stale) > 0 {
			fmt.Fprintf(os.Stderr, "chartsync: out of date with %s (run `make helm`): %s\n", *configDir, strings.Join(stale, ", "))
			os.Exit(1)
		}
		return
	}
	if err := WriteChart(*chartDir, files); err != nil {
		fmt.Fprintln(os.Stderr, "chartsync:", err)
		os.Exit(1)
	}
}

// Generate returns the chart templates derived from configDir, keyed by their path relative
// to the chart directory.
func Generate(configDir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, src := range roleSources {
		p := filepath.Join(configDir, "rbac", src.File)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("while reading %s (run `make manifests`): %w", src.Kind, err)
		}
		tpl, err := RoleTemplate(src, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out["templates/"+src.Template] = tpl
	}

	crdFiles, err := filepath.Glob(filepath.Join(configDir, "crd", "bases", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(crdFiles) == 0 {
		return nil, fmt.Errorf("no CRDs in %s (run `make manifests`)", filepath.Join(configDir, "crd", "bases"))
	}
	for _, f := range crdFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("while reading CRD: %w", err)
		}
		// Name the source the same way wherever configDir is, so -check compares equal from any directory.
		name, tpl, err := CRDTemplate(b, "config/crd/bases/"+filepath.Base(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[name] = tpl
	}
	return out, nil
}

// WriteChart writes files into chartDir and removes generated CRD templates that no longer
// have a source, so a renamed CRD does not linger in the chart.
func WriteChart(chartDir string, files map[string][]byte) error {
	stale, err := generatedCRDs(chartDir)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if _, ok := files[p]; !ok {
			if err := os.Remove(filepath.Join(chartDir, p)); err != nil {
				return fmt.Errorf("while removing stale %s: %w", p, err)
			}
		}
	}
	for p, b := range files {
		// Chart templates are sources, readable like every other file of the repository.
		if err := os.WriteFile(filepath.Join(chartDir, p), b, 0o644); err != nil { //nolint:gosec // see above
			return fmt.Errorf("while writing %s: %w", p, err)
		}
	}
	return nil
}

// Diff lists the chart files that differ from files, are missing, or are generated CRD
// templates without a source.
func Diff(chartDir string, files map[string][]byte) ([]string, error) {
	var stale []string
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(chartDir, p))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if !bytes.Equal(got, want) {
			stale = append(stale, p)
		}
	}
	existing, err := generatedCRDs(chartDir)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		if _, ok := files[p]; !ok {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	return stale, nil
}

func generatedCRDs(chartDir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(chartDir, "templates", crdPrefix+"*.yaml"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for _, p := range m {
		rel, err := filepath.Rel(chartDir, p)
		if err != nil {
			return nil, err
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

// RoleSource is one Role or ClusterRole of config/rbac and where the chart holds it.
type RoleSource struct {
	File      string // under config/rbac
	Kind      string // Role or ClusterRole
	Template  string // under the chart's templates/
	Suffix    string // the object is named <fullname>-<Suffix>
	Condition string // Helm condition that renders it
}

// roleSources are the roles the chart copies; bindings and the ServiceAccount are the chart's own.
var roleSources = []RoleSource{
	{File: "role.yaml", Kind: "ClusterRole", Template: "clusterrole.yaml", Suffix: "manager",
		Condition: ".Values.rbac.create"},
	{File: "leader_election_role.yaml", Kind: "Role", Template: "leader-election-role.yaml", Suffix: "leader-election",
		Condition: ".Values.rbac.create"},
	{File: "database_editor_role.yaml", Kind: "ClusterRole", Template: "database-editor-clusterrole.yaml", Suffix: "database-editor",
		Condition: "and .Values.rbac.create .Values.rbac.aggregateClusterRoles"},
	{File: "database_viewer_role.yaml", Kind: "ClusterRole", Template: "database-viewer-clusterrole.yaml", Suffix: "database-viewer",
		Condition: "and .Values.rbac.create .Values.rbac.aggregateClusterRoles"},
}

// aggregatePrefix marks the labels that aggregate a ClusterRole into the built-in admin, edit
// and view roles; they are part of what the role grants, so they are copied too.
const aggregatePrefix = "rbac.authorization.k8s.io/aggregate-to-"

// RoleTemplate turns one role of config/rbac into a chart template: the rules and aggregation
// labels verbatim, the name, namespace and other labels from the chart.
func RoleTemplate(src RoleSource, roleYAML []byte) ([]byte, error) {
	docs, err := splitDocuments(roleYAML)
	if err != nil {
		return nil, err
	}
	// More than one document would be namespaced Roles from markers with namespace=; the chart
	// has no place for them, so refuse rather than silently drop permissions.
	if len(docs) != 1 {
		return nil, fmt.Errorf("want one %s, found %d documents", src.Kind, len(docs))
	}
	var r rbacv1.ClusterRole // a Role has the same fields but aggregationRule
	if err := yaml.UnmarshalStrict(docs[0], &r); err != nil {
		return nil, fmt.Errorf("while parsing: %w", err)
	}
	if r.Kind != src.Kind {
		return nil, fmt.Errorf("kind %s, want %s", r.Kind, src.Kind)
	}
	if r.AggregationRule != nil {
		return nil, errors.New("aggregationRule is not supported")
	}
	if len(r.Rules) == 0 {
		return nil, errors.New("no rules")
	}
	rules, err := yaml.Marshal(r.Rules)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{{/* Code generated by `make helm` from config/rbac/%s; DO NOT EDIT. */}}\n", src.File)
	fmt.Fprintf(&b, "{{- if %s }}\n", src.Condition)
	fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: %s\nmetadata:\n", src.Kind)
	fmt.Fprintf(&b, "  name: {{ include \"restkube.fullname\" . }}-%s\n", src.Suffix)
	if src.Kind == "Role" {
		b.WriteString("  namespace: {{ .Release.Namespace }}\n")
	}
	b.WriteString("  labels:\n    {{- include \"restkube.labels\" . | nindent 4 }}\n")
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		if strings.HasPrefix(k, aggregatePrefix) {
			fmt.Fprintf(&b, "    %s: %q\n", k, r.Labels[k])
		}
	}
	b.WriteString("rules:\n")
	b.Write(escapeTemplate(rules))
	b.WriteString("{{- end }}\n")
	return b.Bytes(), nil
}

// CRDTemplate turns one controller-gen CRD into a chart template, and returns its path in the chart.
func CRDTemplate(crdYAML []byte, source string) (string, []byte, error) {
	docs, err := splitDocuments(crdYAML)
	if err != nil {
		return "", nil, err
	}
	if len(docs) != 1 {
		return "", nil, fmt.Errorf("want one CRD per file, found %d documents", len(docs))
	}
	var crd map[string]any
	if err := yaml.Unmarshal(docs[0], &crd); err != nil {
		return "", nil, fmt.Errorf("while parsing: %w", err)
	}
	if crd["kind"] != "CustomResourceDefinition" {
		return "", nil, fmt.Errorf("kind %v, want CustomResourceDefinition", crd["kind"])
	}
	meta, _ := crd["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	spec, _ := crd["spec"].(map[string]any)
	names, _ := spec["names"].(map[string]any)
	plural, _ := names["plural"].(string)
	if name == "" || plural == "" {
		return "", nil, errors.New("CRD without metadata.name or spec.names.plural")
	}
	annotations := map[string]any{}
	if a, ok := meta["annotations"].(map[string]any); ok {
		maps.Copy(annotations, a)
	}
	annotations[keepPolicy] = "keep"
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if k != "name" && k != "annotations" && k != "creationTimestamp" {
			return "", nil, fmt.Errorf("unexpected metadata.%s", k)
		}
	}

	annYAML, err := yaml.Marshal(annotations)
	if err != nil {
		return "", nil, err
	}
	specYAML, err := yaml.Marshal(spec)
	if err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{{/* Code generated by `make helm` from %s; DO NOT EDIT. */}}\n", source)
	b.WriteString("{{- if .Values.crds.create }}\n")
	fmt.Fprintf(&b, "apiVersion: %s\nkind: CustomResourceDefinition\nmetadata:\n  name: %s\n", crd["apiVersion"], name)
	b.WriteString("  annotations:\n")
	b.Write(indent(escapeTemplate(annYAML), "    "))
	b.WriteString("  labels:\n    {{- include \"restkube.labels\" . | nindent 4 }}\n")
	b.WriteString("spec:\n")
	b.Write(indent(escapeTemplate(specYAML), "  "))
	b.WriteString("{{- end }}\n")
	return "templates/" + crdPrefix + plural + ".yaml", b.Bytes(), nil
}

// splitDocuments returns the non-empty YAML documents of b.
func splitDocuments(b []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("while splitting YAML documents: %w", err)
		}
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
}

func stripComments(d []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(d, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// escapeTemplate keeps Helm from reading "{{" in descriptions or CEL rules as an action.
func escapeTemplate(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("{{"), []byte(`{{ "{{" }}`))
}

func indent(b []byte, prefix string) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if line != "\n" {
			out.WriteString(prefix)
		}
		out.WriteString(line)
	}
	return out.Bytes()
}
