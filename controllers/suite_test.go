package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/internal/testutil"
)

// The envtest suite: one real kube-apiserver and etcd for the package, and one manager running
// the reconciler as a user that holds only config/rbac/role.yaml, so the RBAC markers are tested
// too. envtest has no kubelet, no controller-manager and no garbage collector: tests play the
// Deployment controller themselves and assert owner references instead of deletions.

const (
	testImage = "registry.local/restkube:test"
	// testRetryInterval is long on purpose: every recovery the tests wait for must come from a
	// watch, not from the slow retry of a missing Secret.
	testRetryInterval = time.Hour
	// operatorUser is the identity the manager runs as in the suite.
	operatorUser = "restkube-operator"
)

// suite is the shared test environment; nil when the Kubernetes binaries are absent.
type suite struct {
	env       *envtest.Environment
	admin     client.Client // uncached, all permissions: the test's own hands
	mgrClient client.Client // the manager's client (cached, but not for Secrets)
	mgrCache  cache.Cache   // the manager's cache, to look at what it holds
	// reconciler is the one the manager runs; tests call Reconcile on copies of it.
	reconciler *DatabaseReconciler
	// recorder is the manager's event recorder (writing as the operator's user), for the
	// reconcilers tests build themselves.
	recorder  events.EventRecorder
	scheme    *runtime.Scheme
	nsCounter atomic.Int64
}

var (
	testSuite  *suite
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		if _, err := os.Stat(filepath.Join("..", "bin", "k8s", "kube-apiserver")); err == nil {
			assets, _ = filepath.Abs(filepath.Join("..", "bin", "k8s"))
		}
	}
	if assets == "" {
		skipReason = "no kube-apiserver and etcd: set KUBEBUILDER_ASSETS or run `make k8s-binaries` (builds them into bin/k8s)"
		return m.Run()
	}
	logf.SetLogger(logr.Discard())
	s, stop, err := startSuite(assets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	testSuite = s
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "envtest: stopping:", err)
	}
	return code
}

func startSuite(assets string) (*suite, func() error, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(dbv1.AddToScheme(scheme))

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	stopEnv := env.Stop
	fail := func(err error) (*suite, func() error, error) {
		_ = stopEnv()
		return nil, nil, err
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fail(err)
	}
	if err := grantOperatorRole(admin); err != nil {
		return fail(err)
	}
	user, err := env.AddUser(envtest.User{Name: operatorUser}, cfg)
	if err != nil {
		return fail(fmt.Errorf("adding the operator's user: %w", err))
	}
	mgr, err := ctrl.NewManager(user.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
		Client:                 ClientOptions(),
	})
	if err != nil {
		return fail(fmt.Errorf("creating the manager: %w", err))
	}
	r, err := NewDatabaseReconciler(mgr, Options{DefaultImage: testImage, SecretRetryInterval: testRetryInterval})
	if err != nil {
		return fail(err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return fail(errors.New("the manager's cache did not sync"))
	}
	s := &suite{env: env, admin: admin, mgrClient: mgr.GetClient(), mgrCache: mgr.GetCache(), reconciler: r, recorder: mgr.GetEventRecorder(EventSource), scheme: scheme}
	stop := func() error {
		cancel()
		if err := <-done; err != nil {
			_ = stopEnv()
			return fmt.Errorf("manager: %w", err)
		}
		return stopEnv()
	}
	return s, stop, nil
}

// grantOperatorRole binds the generated manager ClusterRole, exactly as `make manifests` wrote
// it, to the operator's test user.
func grantOperatorRole(c client.Client) error {
	raw, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return fmt.Errorf("reading the generated ClusterRole: %w", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096).Decode(role); err != nil {
		return fmt.Errorf("decoding config/rbac/role.yaml: %w", err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, role); err != nil {
		return fmt.Errorf("creating %s: %w", role.Name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "restkube-operator-test"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}},
	}
	if err := c.Create(ctx, binding); err != nil {
		return fmt.Errorf("binding %s: %w", role.Name, err)
	}
	return nil
}

// envOrSkip returns the suite, or skips the test when the binaries are absent.
func envOrSkip(t *testing.T) *suite {
	t.Helper()
	if testSuite == nil {
		t.Skip(skipReason)
	}
	return testSuite
}

// namespace creates a fresh namespace for one test, so tests never see each other's objects.
func (s *suite) namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("test-%d", s.nsCounter.Add(1))}}
	if err := s.admin.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually waits, for up to 20 s, until cond returns nil (testutil.Eventually).
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, what, cond)
}

// resourceVersions returns the resourceVersion of the example Database and of each object it owns.
func (s *suite) resourceVersions(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, obj := range map[string]client.Object{
		"Database": &dbv1.Database{}, "Deployment": &appsv1.Deployment{}, "Service": &corev1.Service{},
		"todo-credentials": &corev1.Secret{}, "todo-settings": &corev1.Secret{}, "todo-data": &corev1.PersistentVolumeClaim{},
	} {
		key := name
		if !strings.HasPrefix(name, "todo-") {
			key = "todo"
		}
		if err := s.get(ns, key, obj); err != nil {
			t.Fatal(err)
		}
		out[name] = obj.GetResourceVersion()
	}
	return out
}

// get reads ns/name into obj with the admin client.
func (s *suite) get(ns, name string, obj client.Object) error {
	return s.admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
}

// mustCreate creates obj or fails the test.
func (s *suite) mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := s.admin.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// secret returns a Secret with one key and no labels, as a user who never read the operator's
// documentation would write it.
func secret(ns, name, key, value string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data:       map[string][]byte{key: []byte(value)},
	}
}

// reconcilerWith returns a copy of the suite's reconciler that records no events and has its
// options changed by mutate, for tests that call Reconcile themselves.
func (s *suite) reconcilerWith(mutate func(*Options)) *DatabaseReconciler {
	r := *s.reconciler
	r.recorder = nopRecorder{}
	if mutate != nil {
		mutate(&r.opts)
	}
	return &r
}

// decodeYAMLObjects splits a multi-document YAML stream into objects.
func decodeYAMLObjects(raw []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// ignoreAlreadyExists lets a test create what an earlier test may have created.
func ignoreAlreadyExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
