// Command operator measures the RestKube operator at scale, on a real kube-apiserver and etcd
// (envtest, from bin/k8s) with the manager running as its own binary:
//
//  1. optionally, unrelated Secrets (default 10,000 of 10 KB) fill the cluster first, and the
//     manager's RSS is read once it has synced;
//  2. N Databases (default 1,000), all referencing one shared Secret, are created at once; the
//     time until every one is reconciled (credentials, settings, claim, Service and Deployment
//     exist; status.observedGeneration is current) is reported, then, once the manager is quiet,
//     its reconciles and API requests per Database (from its own Prometheus metrics) and its
//     peak RSS;
//  3. the shared Secret changes, and the time until every Database's settings.json carries the
//     new value is reported.
//
// Everything talks over loopback. Run it as `make bench-operator` (BENCH_OPERATOR_FLAGS=... to
// change the counts).
package main

import (
	"bufio"
	"context"
	"errors"

	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

type config struct {
	databases, unrelated, unrelatedKB, workers, createWorkers int
	qps                                                       float64
	burst                                                     int
	assets, manager                                           string
	apiProfile, managerProfile                                string
}

func main() {
	var c config
	flag.IntVar(&c.databases, "databases", 1000, "Databases created at once")
	flag.IntVar(&c.unrelated, "unrelated-secrets", 10000, "unrelated Secrets in the cluster before the manager starts")
	flag.IntVar(&c.unrelatedKB, "unrelated-secret-kb", 10, "size of each unrelated Secret's data, in KiB")
	flag.IntVar(&c.workers, "max-concurrent-reconciles", 0, "the manager's reconcile workers (0: its default)")
	flag.Float64Var(&c.qps, "kube-api-qps", 0, "the manager's --kube-api-qps (0: its default)")
	flag.IntVar(&c.burst, "kube-api-burst", 0, "the manager's --kube-api-burst (0: its default)")
	flag.IntVar(&c.createWorkers, "create-workers", 32, "goroutines creating the Databases")
	flag.StringVar(&c.assets, "assets", "bin/k8s", "directory holding kube-apiserver and etcd")
	flag.StringVar(&c.manager, "manager", "", "a prebuilt manager binary (default: build .)")
	flag.StringVar(&c.apiProfile, "apiserver-cpuprofile", "", "write a CPU profile of kube-apiserver, taken while the Databases are reconciled, to this file")
	flag.StringVar(&c.managerProfile, "manager-cpuprofile", "", "write a CPU profile of the manager, taken while the Databases are reconciled, to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-operator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	ctrllog.SetLogger(logr.Discard()) // the bench's cache would otherwise complain that nothing logs
	dir, err := os.MkdirTemp("", "restkube-bench-operator-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.manager == "" {
		c.manager = filepath.Join(dir, "manager")
		logf("building the manager")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", c.manager, ".").CombinedOutput()
		if err != nil {
			return fmt.Errorf("building the manager: %v\n%s", err, out)
		}
	}
	assets, err := filepath.Abs(c.assets)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(dbv1.AddToScheme(scheme))
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	// A thousand Services need more cluster IPs than envtest's default /24 holds. The range is
	// only allocated from; no address is configured anywhere.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	logf("starting kube-apiserver and etcd")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting envtest from %s: %w", assets, err)
	}
	defer func() { _ = env.Stop() }()
	// The bench's own client is not the one measured: no rate limit, and no gzip, which the
	// API server would otherwise spend on every event of the bench's watches.
	cfg.QPS, cfg.Burst = -1, 0
	cfg.DisableCompression = true
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	user, err := env.AddUser(envtest.User{Name: "bench-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}

	if c.unrelated > 0 {
		if err := createUnrelatedSecrets(ctx, admin, c); err != nil {
			return err
		}
	}
	const ns = "bench"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	shared := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shared-webkey", Namespace: ns},
		Data:       map[string][]byte{"key": []byte("web-key-1")},
	}
	if err := admin.Create(ctx, shared); err != nil {
		return err
	}

	mgr, err := startManager(ctx, c, kubeconfigPath)
	if err != nil {
		return err
	}
	defer mgr.stop()
	if err := mgr.waitSynced(ctx); err != nil {
		return err
	}
	rssIdle, _ := mgr.rss()
	base, err := mgr.scrape()
	if err != nil {
		return err
	}

	// The bench watches instead of polling lists: listing a thousand Deployments four times a
	// second costs the API server more CPU than the manager's requests do, and on two cores that
	// slowed the very thing being measured.
	obsCtx, stopObserving := context.WithCancel(ctx)
	defer stopObserving()
	obs, err := observe(obsCtx, cfg, scheme, ns)
	if err != nil {
		return err
	}

	acct := newCPUAccount(assets, mgr.cmd.Process.Pid)
	logf("creating %d Databases", c.databases)
	start := time.Now()
	cpu0 := acct.sample()
	if c.apiProfile != "" {
		go profileAPIServer(ctx, cfg, c.apiProfile, 20*time.Second)
	}
	if c.managerProfile != "" {
		go mgr.profile(ctx, c.managerProfile, 20*time.Second)
	}
	if err := createDatabases(ctx, admin, ns, c); err != nil {
		return err
	}
	created := time.Since(start)
	if err := waitAllReconciled(ctx, obs, ns, c.databases); err != nil {
		return err
	}
	reconciled := time.Since(start)
	cpu1 := acct.sample()
	logf("all reconciled after %v; waiting for the manager to go quiet", reconciled.Round(time.Millisecond))
	quiet, err := mgr.waitQuiet(ctx)
	if err != nil {
		return err
	}
	rssPeak, _ := mgr.rss()

	logf("changing the shared Secret")
	shared.Data["key"] = []byte("web-key-2")
	start = time.Now()
	if err := admin.Update(ctx, shared); err != nil {
		return err
	}
	if err := waitAllSettings(ctx, obs, ns, c.databases, "web-key-2"); err != nil {
		return err
	}
	rerendered := time.Since(start)

	n := float64(c.databases)
	fmt.Printf("\nRestKube operator at scale (envtest; manager binary; %d Databases; %d unrelated Secrets of %d KiB)\n",
		c.databases, c.unrelated, c.unrelatedKB)
	fmt.Printf("  manager flags: %s\n", strings.Join(mgr.flags, " "))
	fmt.Printf("  %-52s %10v\n", "Databases created (bench client)", created.Round(time.Millisecond))
	fmt.Printf("  %-52s %10v   target <= 20s\n", "all reconciled (objects exist, observedGeneration)", reconciled.Round(time.Millisecond))
	fmt.Printf("  %-52s %10.2f   target <= 1.1\n", "reconciles per Database until quiet", (quiet.reconciles-base.reconciles)/n)
	fmt.Printf("  %-52s %10.2f   target <= 10\n", "API requests per Database until quiet", (quiet.requests-base.requests)/n)
	for _, v := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
		fmt.Printf("    %-50s %10.2f\n", v, (quiet.byVerb[v]-base.byVerb[v])/n)
	}
	fmt.Printf("  %-52s\n", "CPU until all reconciled, by process")
	acct.report(cpu0, cpu1, c.databases)
	fmt.Printf("  %-52s %10.1f MiB\n", "manager RSS after sync, before any Database", float64(rssIdle)/(1<<20))
	fmt.Printf("  %-52s %10.1f MiB   target <= 100 MiB\n", "manager peak RSS (VmHWM)", float64(rssPeak)/(1<<20))
	fmt.Printf("  %-52s %10v\n", "shared Secret changed -> every settings.json re-rendered", rerendered.Round(time.Millisecond))
	return nil
}

// observe starts a cache of the objects in ns that the bench looks at (Databases and what the
// manager makes of them), fed by watches, and waits for it to sync.
func observe(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, ns string) (cache.Cache, error) {
	obs, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, fmt.Errorf("the bench's cache: %w", err)
	}
	// Deployments, Services and claims only need to exist: their metadata is enough, and a
	// metadata watch costs the API server less than the full objects.
	for _, o := range []client.Object{&dbv1.Database{}, &corev1.Secret{},
		metadataOf(appsv1.SchemeGroupVersion.WithKind("Deployment")),
		metadataOf(corev1.SchemeGroupVersion.WithKind("Service")),
		metadataOf(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"))} {
		if _, err := obs.GetInformer(ctx, o); err != nil {
			return nil, fmt.Errorf("the bench's informer for %T: %w", o, err)
		}
	}
	go func() {
		if err := obs.Start(ctx); err != nil {
			logf("the bench's cache stopped: %v", err)
		}
	}()
	if !obs.WaitForCacheSync(ctx) {
		return nil, errors.New("the bench's cache did not sync")
	}
	return obs, nil
}

// profileAPIServer writes a CPU profile of kube-apiserver over the next d to path
// (kube-apiserver serves /debug/pprof unless --profiling=false).
func profileAPIServer(ctx context.Context, cfg *rest.Config, path string, d time.Duration) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		logf("apiserver profile: %v", err)
		return
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + 30*time.Second).DoRaw(ctx)
	saveProfile("apiserver", path, raw, err)
}

// saveProfile writes the profile of what, fetched as raw unless err, to path, or logs why
// there is none.
func saveProfile(what, path string, raw []byte, err error) {
	if err == nil {
		err = os.WriteFile(path, raw, 0o644)
	}
	if err != nil {
		logf("%s profile: %v", what, err)
		return
	}
	logf("%s profile written to %s", what, path)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func createUnrelatedSecrets(ctx context.Context, admin client.Client, c config) error {
	logf("creating %d unrelated Secrets of %d KiB", c.unrelated, c.unrelatedKB)
	const ns = "unrelated"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	blob := make([]byte, c.unrelatedKB<<10)
	for i := range blob {
		blob[i] = byte('a' + i%26)
	}
	return parallel(ctx, c.unrelated, 16, func(i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("unrelated-%05d", i), Namespace: ns,
				Labels: map[string]string{"app": "something-else"},
			},
			Data: map[string][]byte{"tls.key": blob},
		}
		return admin.Create(ctx, s)
	})
}

func createDatabases(ctx context.Context, admin client.Client, ns string, c config) error {
	return parallel(ctx, c.databases, c.createWorkers, func(i int) error {
		db := &dbv1.Database{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("db-%04d", i), Namespace: ns},
			Spec: dbv1.DatabaseSpec{
				APIKeys: &dbv1.APIKeysSpec{Web: []dbv1.WebKeySpec{{
					Name:      "site",
					SecretRef: dbv1.SecretKeyRef{Name: "shared-webkey", Key: "key"},
					Paths:     []string{"/tasks/**"},
					Origins:   []string{"https://todo.example.com"},
				}}},
				Collections: []dbv1.CollectionSpec{{Name: "tasks", Indexes: []string{"done"}}},
			},
		}
		return admin.Create(ctx, db)
	})
}

// waitAllReconciled polls until n Databases have a current status and every owned object.
func waitAllReconciled(ctx context.Context, admin client.Reader, ns string, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		done, what, err := countReconciled(ctx, admin, ns)
		if err != nil {
			return err
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 10 minutes only %d of %d reconciled (%s)", done, n, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func countReconciled(ctx context.Context, admin client.Reader, ns string) (int, string, error) {
	var dbs dbv1.DatabaseList
	var secs corev1.SecretList
	deps := metadataListOf(appsv1.SchemeGroupVersion.WithKind("DeploymentList"))
	svcs := metadataListOf(corev1.SchemeGroupVersion.WithKind("ServiceList"))
	pvcs := metadataListOf(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaimList"))
	for _, l := range []client.ObjectList{&dbs, &secs, deps, svcs, pvcs} {
		if err := admin.List(ctx, l, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return 0, "", err
		}
	}
	have := map[string]int{}
	for _, d := range deps.Items {
		have[d.Name]++
	}
	for _, s := range svcs.Items {
		have[s.Name]++
	}
	for _, p := range pvcs.Items {
		have[strings.TrimSuffix(p.Name, "-data")]++
	}
	for _, s := range secs.Items {
		if n, ok := strings.CutSuffix(s.Name, "-credentials"); ok {
			have[n]++
		} else if n, ok := strings.CutSuffix(s.Name, "-settings"); ok {
			have[n]++
		}
	}
	done, current := 0, 0
	for _, db := range dbs.Items {
		if db.Status.ObservedGeneration != db.Generation || len(db.Status.Conditions) == 0 {
			continue
		}
		current++
		if have[db.Name] == 5 {
			done++
		}
	}
	return done, fmt.Sprintf("%d of %d with a current status", current, len(dbs.Items)), nil
}

func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

func metadataListOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(gvk)
	return l
}

// waitAllSettings polls until n settings Secrets hold want.
func waitAllSettings(ctx context.Context, admin client.Reader, ns string, n int, want string) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var list corev1.SecretList
		if err := admin.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		got := 0
		for _, s := range list.Items {
			if strings.HasSuffix(s.Name, "-settings") && strings.Contains(string(s.Data["settings.json"]), want) {
				got++
			}
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 10 minutes %d of %d settings re-rendered", got, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// manager is the operator binary under measurement.
type manager struct {
	cmd     *exec.Cmd
	metrics string
	flags   []string
	stderr  *tail
	pprof   string // the manager's --pprof-bind-address, when profiled
}

func startManager(ctx context.Context, c config, kubeconfig string) (*manager, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	flags := []string{
		"--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(port),
		"--health-probe-bind-address=0",
		"--dbserver-image=registry.local/restkube:bench",
	}
	if c.workers > 0 {
		flags = append(flags, "--max-concurrent-reconciles="+strconv.Itoa(c.workers))
	}
	if c.qps != 0 {
		flags = append(flags, fmt.Sprintf("--kube-api-qps=%g", c.qps))
	}
	if c.burst != 0 {
		flags = append(flags, "--kube-api-burst="+strconv.Itoa(c.burst))
	}
	pprof := ""
	if c.managerProfile != "" {
		pport, err := freePort()
		if err != nil {
			return nil, err
		}
		pprof = fmt.Sprintf("127.0.0.1:%d", pport)
		flags = append(flags, "--pprof-bind-address="+pprof)
	}
	cmd := exec.CommandContext(ctx, c.manager, append(flags, "-v=0")...)
	t := &tail{}
	cmd.Stderr = t
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	return &manager{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), flags: flags[3:], stderr: t, pprof: pprof}, nil
}

// profile writes a CPU profile of the manager over the next d to path.
func (m *manager) profile(ctx context.Context, path string, d time.Duration) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.pprof, int(d.Seconds()))
	raw, err := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, raw)
		}
		return raw, err
	}()
	saveProfile("manager", path, raw, err)
}

func (m *manager) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
}

// waitSynced waits until the manager serves metrics, its controller has workers, and its
// initial lists are over.
func (m *manager) waitSynced(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		s, err := m.scrape()
		if err == nil && s.workers > 0 {
			// The initial lists (10,000 Secrets' metadata among them) end before the baseline.
			_, err := m.waitQuiet(ctx)
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the manager did not start its controller; its log ends:\n%s", m.stderr.String())
}

// waitQuiet waits until no reconcile ran and no request was sent for 3 seconds.
func (m *manager) waitQuiet(ctx context.Context) (sample, error) {
	last, err := m.scrape()
	if err != nil {
		return sample{}, err
	}
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			return sample{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		s, err := m.scrape()
		if err != nil {
			return sample{}, err
		}
		if s.reconciles != last.reconciles || s.requests != last.requests || s.depth > 0 {
			last, since = s, time.Now()
			continue
		}
		if time.Since(since) >= 3*time.Second {
			return s, nil
		}
	}
}

// rss returns the manager's peak resident set (VmHWM).
func (m *manager) rss() (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// sample is what the manager's metrics say at one moment.
type sample struct {
	reconciles, requests, depth, workers float64
	byVerb                               map[string]float64
}

func (m *manager) scrape() (sample, error) {
	resp, err := http.Get(m.metrics)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	s := sample{byVerb: map[string]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, value, ok := parseSample(line)
		if !ok {
			continue
		}
		switch {
		case name == "controller_runtime_reconcile_total" && strings.Contains(labels, `controller="database"`):
			s.reconciles += value
		case name == "rest_client_requests_total":
			s.requests += value
			for _, v := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
				if strings.Contains(labels, `method="`+v+`"`) {
					s.byVerb[v] += value
				}
			}
		case name == "workqueue_depth" && strings.Contains(labels, `name="database"`):
			s.depth += value
		case name == "controller_runtime_max_concurrent_reconciles" && strings.Contains(labels, `controller="database"`):
			s.workers += value
		}
	}
	return s, sc.Err()
}

// parseSample splits a Prometheus text-format sample line.
func parseSample(line string) (name, labels string, value float64, ok bool) {
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", "", 0, false
	}
	head := line[:sp]
	if i := strings.IndexByte(head, '{'); i >= 0 {
		return head[:i], head[i:], v, true
	}
	return head, "", v, true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last 8 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
