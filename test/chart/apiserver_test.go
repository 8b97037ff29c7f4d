package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// fieldOwner names the test's server-side apply requests.
const fieldOwner = "restkube-chart-test"

// startAPIServer starts envtest's etcd and kube-apiserver with the CRDs of crdDirs installed,
// and stops them when t ends.
func startAPIServer(t *testing.T, crdDirs ...string) (*envtest.Environment, *rest.Config) {
	t.Helper()
	root := repoRoot(t)
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Fatalf("envtest binary %s missing in %s: run `make k8s-binaries` (make test builds them): %v", bin, assets, err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return env, cfg
}

// warnings records the API server's warnings (Pod Security admission reports through them).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// TestRenderedObjectsAreAcceptedByTheAPIServer dry-runs every object the chart renders, for
// every value set, against a real kube-apiserver: this catches what `helm template` cannot
// (unknown fields, invalid values, CRD schema errors, ServiceMonitor fields). The release
// namespace enforces the restricted Pod Security Standard as warnings, which must stay empty.
func TestRenderedObjectsAreAcceptedByTheAPIServer(t *testing.T) {
	helmBin(t) // skip before paying for an API server
	// The Database CRD as `make manifests` writes it (the chart's copy is dry-run as an update
	// of it), and a minimal ServiceMonitor CRD for the optional ServiceMonitor.
	_, cfg := startAPIServer(t, filepath.Join(repoRoot(t), "config", "crd", "bases"), filepath.Join("testdata", "crds"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	warn := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warn
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: releaseNamespace,
		Labels: map[string]string{
			"pod-security.kubernetes.io/warn":    "restricted",
			"pod-security.kubernetes.io/enforce": "restricted",
		},
	}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	warn.take()

	for name, files := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := render(t, files)
			if len(objs) == 0 {
				t.Fatal("nothing rendered")
			}
			for _, o := range objs {
				t.Run(o.GetKind()+"/"+o.GetName(), func(t *testing.T) {
					err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o),
						client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
					if err != nil {
						t.Fatalf("API server rejected %s %s: %v", o.GetKind(), o.GetName(), err)
					}
					if w := warn.take(); len(w) > 0 {
						t.Errorf("API server warned about %s %s: %q", o.GetKind(), o.GetName(), w)
					}
				})
			}
		})
	}

	// The kustomize install must be as valid as the chart (`kubectl apply -k config/default`).
	t.Run("config/default", func(t *testing.T) {
		for _, o := range kustomizeDefault(t) {
			t.Run(o.GetKind()+"/"+o.GetName(), func(t *testing.T) {
				err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o),
					client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
				if err != nil {
					t.Fatalf("API server rejected %s %s: %v", o.GetKind(), o.GetName(), err)
				}
				if w := warn.take(); len(w) > 0 {
					t.Errorf("API server warned about %s %s: %q", o.GetKind(), o.GetName(), w)
				}
			})
		}
	})

	t.Run("the dry run really is checked", func(t *testing.T) {
		// A pod template that breaks the restricted standard must at least warn, or the
		// empty warnings above prove nothing.
		d := find(t, render(t, nil), "Deployment")
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		sc := containers[0].(map[string]any)["securityContext"].(map[string]any)
		sc["allowPrivilegeEscalation"] = true
		if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(d),
			client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if w := warn.take(); len(w) == 0 || !strings.Contains(strings.Join(w, " "), "allowPrivilegeEscalation") {
			t.Errorf("no Pod Security warning for allowPrivilegeEscalation=true: %q", w)
		}

		// An unknown field is rejected, not pruned.
		bad := find(t, render(t, nil), "Service")
		if err := unstructured.SetNestedField(bad.Object, "x", "spec", "portz"); err != nil {
			t.Fatal(err)
		}
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad),
			client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "portz") {
			t.Errorf("Service with an unknown field: err = %v, want a rejection naming it", err)
		}
	})
}

// TestHelmInstallAndUninstall installs the chart into the envtest API server with helm itself,
// then uninstalls it: the CRD (and with it every Database) must survive the uninstall.
func TestHelmInstallAndUninstall(t *testing.T) {
	helmBin(t)
	// No CRD beforehand: the chart installs it.
	env, cfg := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	crdGVK := schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)

	helm := func(args ...string) string {
		t.Helper()
		out, err := runHelm(t, append(args, "--kubeconfig", kubeconfig)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := helm("install", releaseName, chartDir(t), "--namespace", releaseNamespace, "--create-namespace")
	for _, want := range []string{"kind: Database", "todo-credentials", "jsonpath='{.data.api-key}'", "port-forward svc/todo"} {
		if !strings.Contains(out, want) {
			t.Errorf("NOTES do not show %q:\n%s", want, out)
		}
	}

	// What helm created is there, in the release namespace.
	checks := []struct {
		gvk  schema.GroupVersionKind
		key  client.ObjectKey
		name string
	}{
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, client.ObjectKey{Namespace: releaseNamespace, Name: "restkube"}, "Deployment"},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, client.ObjectKey{Name: "restkube-manager"}, "ClusterRole"},
		{crdGVK, client.ObjectKey{Name: "databases.db.restkube.dev"}, "CRD"},
	}
	for _, ch := range checks {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(ch.gvk)
		if err := c.Get(ctx, ch.key, o); err != nil {
			t.Errorf("after install, %s %s: %v", ch.name, ch.key, err)
		}
	}

	// The manager takes the leader-election Lease the chart made; an upgrade leaves its holder
	// alone, and uninstalling removes the Lease.
	leaseGVK := schema.GroupVersionKind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"}
	leaseKey := client.ObjectKey{Namespace: releaseNamespace, Name: "restkube-operator.db.restkube.dev"}
	lease := &unstructured.Unstructured{}
	lease.SetGroupVersionKind(leaseGVK)
	if err := c.Get(ctx, leaseKey, lease); err != nil {
		t.Fatalf("the chart made no leader-election Lease: %v", err)
	}
	if err := unstructured.SetNestedField(lease.Object, "restkube-abc_1", "spec", "holderIdentity"); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, lease); err != nil {
		t.Fatalf("taking the Lease as the manager would: %v", err)
	}

	// An upgrade with other values goes through (the CRD is updated in place, not recreated).
	helm("upgrade", releaseName, chartDir(t), "--namespace", releaseNamespace, "--set", "replicaCount=2")
	if err := c.Get(ctx, leaseKey, lease); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := unstructured.NestedString(lease.Object, "spec", "holderIdentity"); h != "restkube-abc_1" {
		t.Errorf("after helm upgrade the Lease's holder is %q, want the manager's kept", h)
	}

	helm("uninstall", releaseName, "--namespace", releaseNamespace)
	if err := c.Get(ctx, leaseKey, lease); !apierrors.IsNotFound(err) {
		t.Errorf("leader-election Lease after uninstall: err = %v, want NotFound", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "databases.db.restkube.dev"}, crd); err != nil {
		t.Errorf("the CRD did not survive helm uninstall: %v", err)
	}
	role := &unstructured.Unstructured{}
	role.SetGroupVersionKind(checks[1].gvk)
	if err := c.Get(ctx, checks[1].key, role); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole after uninstall: err = %v, want NotFound", err)
	}

	// Installing again adopts the CRD that was kept.
	helm("install", releaseName, chartDir(t), "--namespace", releaseNamespace)
	if err := c.Get(ctx, checks[1].key, role); err != nil {
		t.Errorf("ClusterRole after reinstall: %v", err)
	}
}
