package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	releaseName      = "restkube"
	releaseNamespace = "restkube-system"
	// kubeVersion is the Kubernetes the tests render for (the envtest binaries' version). A helm
	// built with `go install` defaults to v1.20, which the chart's kubeVersion refuses.
	kubeVersion = "v1.37.2"
)

// valueSets are the configurations every test renders: the defaults, every optional feature
// on, and everything optional off.
var valueSets = map[string][]string{
	"default values":          nil,
	"every optional feature":  {"testdata/all-features.yaml"},
	"everything optional off": {"testdata/minimal.yaml"},
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "charts", "restkube") }

// helmBin returns bin/tools/helm, or skips the test when it has not been installed: `make test`
// installs it first, a bare `go test` may not have.
func helmBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "bin", "tools", "helm")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: %s is missing; run `make %s` (make test installs it)", p, "bin/tools/helm")
	}
	return p
}

// runHelm runs helm with a deadline and returns stdout; stderr is part of the error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin(t), args...)
	// Keep helm away from the user's config, cache and kubeconfig.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// valuesArgs turns value files (relative to this package) and --set pairs into helm flags.
func valuesArgs(t *testing.T, files []string, set ...string) []string {
	t.Helper()
	var args []string
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", abs)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

// renderYAML runs `helm template` and returns its output.
func renderYAML(t *testing.T, files []string, set ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", releaseName, chartDir(t),
		"--namespace", releaseNamespace, "--kube-version", kubeVersion}, valuesArgs(t, files, set...)...)
	return runHelm(t, args...)
}

// render runs `helm template` and decodes every object it prints.
func render(t *testing.T, files []string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := renderYAML(t, files, set...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects([]byte(out))
	if err != nil {
		t.Fatalf("decoding helm template output: %v\n%s", err, out)
	}
	return objs
}

// decodeObjects splits a multi-document YAML stream into objects, skipping empty documents.
func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the one object of the given kind, failing the test unless there is exactly one.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, found %d (rendered kinds: %v)", kind, len(found), kinds(objs))
	}
	return found[0]
}

// findNamed returns the object of the given kind and name, failing the test if it is absent.
func findNamed(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q rendered", kind, name)
	return nil
}

func kinds(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	return out
}

// into converts an unstructured object (or part of one) into a typed value.
func into(t *testing.T, from any, to any) {
	t.Helper()
	b, err := yaml.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, to); err != nil {
		t.Fatalf("converting to %T: %v", to, err)
	}
}

// readObjects decodes every object of a YAML file in the repository.
func readObjects(t *testing.T, rel string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("reading %s (written by `make manifests`): %v", rel, err)
	}
	objs, err := decodeObjects(b)
	if err != nil {
		t.Fatalf("decoding %s: %v", rel, err)
	}
	return objs
}

// kustomizeDefault renders config/default with bin/tools/kustomize, skipping the test when it
// has not been installed (`make test` installs it first).
func kustomizeDefault(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	bin := filepath.Join(repoRoot(t), "bin", "tools", "kustomize")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("skipping: %s is missing; run `make bin/tools/kustomize` (make test installs it)", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "build", filepath.Join(repoRoot(t), "config", "default"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kustomize build config/default: %v\n%s", err, stderr.String())
	}
	objs, err := decodeObjects(stdout.Bytes())
	if err != nil {
		t.Fatalf("decoding kustomize output: %v", err)
	}
	return objs
}
