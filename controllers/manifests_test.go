package controllers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kustomizeBuild renders a config/ directory with the kustomize binary `make test` installs,
// skipping the test when it is absent.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join("..", "bin", "tools", "kustomize")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no kustomize at %s: run `make bin/tools/kustomize` or set KUSTOMIZE (`make test` installs it)", bin)
	}
	out, err := exec.Command(bin, "build", filepath.Join("..", dir)).Output()
	if err != nil {
		stderr := ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr)
	}
	objs, err := decodeYAMLObjects(out)
	if err != nil {
		t.Fatalf("decoding kustomize build %s: %v", dir, err)
	}
	return objs
}

// TestKustomizeManifestsAreValid is `kubectl apply --server-side --dry-run=server -k` for
// config/default, config/samples and examples/todo: every object goes through the API server's validation,
// defaulting and admission, the CRD's CEL rules included, without being stored. Namespaces are
// created for real, because the objects in them cannot be admitted otherwise.
func TestKustomizeManifestsAreValid(t *testing.T) {
	s := envOrSkip(t)
	ctx := context.Background()
	cases := map[string]struct {
		dir       string
		wantKinds []string
	}{
		"the operator's install": {
			dir:       "config/default",
			wantKinds: []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"},
		},
		"the samples": {
			dir:       "config/samples",
			wantKinds: []string{"Secret", "Database"},
		},
		"the To-Do example's database": {
			dir:       "examples/todo",
			wantKinds: []string{"Secret", "Database"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := kustomizeBuild(t, tc.dir)
			sampleNS := s.namespace(t)
			kinds := map[string]bool{}
			for _, u := range objs {
				kinds[u.GetKind()] = true
				if u.GetKind() == "Namespace" {
					if err := ignoreAlreadyExists(s.admin.Create(ctx, u.DeepCopy())); err != nil {
						t.Fatalf("creating Namespace %s: %v", u.GetName(), err)
					}
				}
			}
			for _, want := range tc.wantKinds {
				if !kinds[want] {
					t.Errorf("kustomize build %s has no %s", tc.dir, want)
				}
			}
			for _, u := range objs {
				if u.GetKind() == "Namespace" {
					continue
				}
				namespaced, err := s.admin.IsObjectNamespaced(u)
				if err != nil {
					t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
					continue
				}
				if namespaced && u.GetNamespace() == "" {
					u.SetNamespace(sampleNS)
				}
				err = s.admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.DryRunAll,
					client.FieldOwner("kubectl"), client.ForceOwnership)
				if err != nil {
					t.Errorf("server-side dry run of %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
		})
	}
}

// TestDefaultInstallPassesItsImageToTheDbserver checks the replacement in config/default: the
// manager's DBSERVER_IMAGE follows its own image.
func TestDefaultInstallPassesItsImageToTheDbserver(t *testing.T) {
	for _, u := range kustomizeBuild(t, "config/default") {
		if u.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cm := c.(map[string]any)
			env, _, _ := unstructured.NestedSlice(cm, "env")
			for _, e := range env {
				em := e.(map[string]any)
				if em["name"] == "DBSERVER_IMAGE" {
					if em["value"] != cm["image"] || cm["image"] == "" {
						t.Fatalf("DBSERVER_IMAGE = %v, image = %v; want them equal", em["value"], cm["image"])
					}
					return
				}
			}
		}
	}
	t.Fatal("the manager Deployment sets no DBSERVER_IMAGE")
}
