package chart_test

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

func TestHelmLint(t *testing.T) {
	for name, files := range valueSets {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir(t)}, valuesArgs(t, files)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint did not report success:\n%s", out)
			}
		})
	}
}

func TestSchemaRejectsMistakes(t *testing.T) {
	cases := map[string]struct {
		set     string
		wantErr string
	}{
		"a misspelled top-level key":           {set: "replicaCont=2", wantErr: "'replicaCont' not allowed"},
		"a misspelled image key":               {set: "image.tagg=v1", wantErr: "'tagg' not allowed"},
		"a misspelled key three levels down":   {set: "metrics.serviceMonitor.enabeld=true", wantErr: "'enabeld' not allowed"},
		"a misspelled resources key":           {set: "resources.request.cpu=1", wantErr: "'request' not allowed"},
		"a pull policy Kubernetes rejects":     {set: "image.pullPolicy=Sometimes", wantErr: "pullPolicy"},
		"a port out of range":                  {set: "metrics.port=70000", wantErr: "/metrics/port"},
		"a digest that is not a sha256":        {set: "image.digest=latest", wantErr: "/image/digest"},
		"a scrape interval Prometheus rejects": {set: "metrics.serviceMonitor.interval=soon", wantErr: "interval"},
		"a string where a bool belongs":        {set: "crds.create=yes", wantErr: "/crds/create"},
		"an extra argument that is not a flag": {set: "extraArgs[0]=debug", wantErr: "/extraArgs/0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := renderYAML(t, nil, tc.set)
			if err == nil {
				t.Fatalf("helm template accepted --set %s", tc.set)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error does not point at the mistake (want %q):\n%v", tc.wantErr, err)
			}
		})
	}
}

func TestRenderedObjects(t *testing.T) {
	rbac := []string{"ClusterRole/restkube-database-editor", "ClusterRole/restkube-database-viewer",
		"ClusterRole/restkube-manager", "ClusterRoleBinding/restkube-manager",
		"Role/restkube-leader-election", "RoleBinding/restkube-leader-election"}
	cases := map[string]struct {
		files []string
		set   []string
		want  []string
	}{
		"default values": {
			want: append([]string{"CustomResourceDefinition/databasebackups.db.restkube.dev", "CustomResourceDefinition/databases.db.restkube.dev", "Deployment/restkube",
				"Service/restkube-metrics", "ServiceAccount/restkube"}, rbac...),
		},
		"every optional feature": {
			files: valueSets["every optional feature"],
			want: append([]string{"CustomResourceDefinition/databasebackups.db.restkube.dev", "CustomResourceDefinition/databases.db.restkube.dev", "Deployment/restkube",
				"NetworkPolicy/restkube", "Service/restkube-metrics", "ServiceAccount/restkube-operator",
				"ServiceMonitor/restkube"}, rbac...),
		},
		"everything optional off": {
			files: valueSets["everything optional off"],
			want:  []string{"Deployment/restkube", "Service/restkube-metrics"},
		},
		"without the aggregated roles": {
			set: []string{"rbac.aggregateClusterRoles=false"},
			want: []string{"ClusterRole/restkube-manager", "ClusterRoleBinding/restkube-manager",
				"CustomResourceDefinition/databasebackups.db.restkube.dev", "CustomResourceDefinition/databases.db.restkube.dev", "Deployment/restkube",
				"Role/restkube-leader-election", "RoleBinding/restkube-leader-election",
				"Service/restkube-metrics", "ServiceAccount/restkube"},
		},
		"a fullnameOverride renames everything": {
			set: []string{"fullnameOverride=rk", "rbac.aggregateClusterRoles=false"},
			want: []string{"ClusterRole/rk-manager", "ClusterRoleBinding/rk-manager",
				"CustomResourceDefinition/databasebackups.db.restkube.dev", "CustomResourceDefinition/databases.db.restkube.dev", "Deployment/rk",
				"Role/rk-leader-election", "RoleBinding/rk-leader-election",
				"Service/rk-metrics", "ServiceAccount/rk"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, o := range render(t, tc.files, tc.set...) {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			sort.Strings(got)
			// The leader-election Lease is always there: the release owns it, so uninstalling
			// removes it.
			want := append(slices.Clone(tc.want), "Lease/restkube-operator.db.restkube.dev")
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("rendered objects:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestEveryObjectIsLabelledAndNamespaced(t *testing.T) {
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true}
	for name, files := range valueSets {
		t.Run(name, func(t *testing.T) {
			for _, o := range render(t, files) {
				l := o.GetLabels()
				if l["app.kubernetes.io/instance"] != releaseName || l["app.kubernetes.io/managed-by"] != "Helm" ||
					l["app.kubernetes.io/name"] != "restkube" || l["helm.sh/chart"] == "" {
					t.Errorf("%s %s: missing standard labels: %v", o.GetKind(), o.GetName(), l)
				}
				wantNS := releaseNamespace
				if clusterScoped[o.GetKind()] {
					wantNS = ""
				}
				if o.GetNamespace() != wantNS {
					t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), wantNS)
				}
			}
		})
	}
}

func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	var d appsv1.Deployment
	into(t, find(t, objs, "Deployment").Object, &d)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return &d, d.Spec.Template.Spec.Containers[0]
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestDeploymentDefaults(t *testing.T) {
	objs := render(t, nil)
	d, c := deploymentOf(t, objs)

	wantArgs := []string{"--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if c.Image != "restkube/restkube:v0.1.0" {
		t.Errorf("image = %q, want the repository with the chart's appVersion", c.Image)
	}
	if v, _ := envValue(c, "DBSERVER_IMAGE"); v != c.Image {
		t.Errorf("DBSERVER_IMAGE = %q, want the operator's own image %q", v, c.Image)
	}
	if got := ptr.Deref(d.Spec.Replicas, 0); got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}

	// The restricted Pod Security Standard, field by field.
	pod := d.Spec.Template.Spec.SecurityContext
	sc := c.SecurityContext
	if pod == nil || sc == nil {
		t.Fatal("missing pod or container security context")
	}
	checks := map[string]bool{
		"pod runAsNonRoot":                 ptr.Deref(pod.RunAsNonRoot, false),
		"pod runAsUser 65532":              ptr.Deref(pod.RunAsUser, 0) == 65532,
		"pod seccomp RuntimeDefault":       pod.SeccompProfile != nil && pod.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"readOnlyRootFilesystem":           ptr.Deref(sc.ReadOnlyRootFilesystem, false),
		"no privilege escalation":          sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		"capabilities drop ALL":            sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0,
		"container runAsNonRoot":           ptr.Deref(sc.RunAsNonRoot, false),
		"container seccomp RuntimeDefault": sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("security: %s not set", what)
		}
	}

	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, p := range probes {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "health" {
			t.Errorf("probe %s: %+v, want an HTTP GET on the health port", path, p)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["health"] != 8081 || ports["metrics"] != 8080 {
		t.Errorf("container ports = %v, want health 8081 and metrics 8080", ports)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want memory requests and limits by default", c.Resources)
	}

	// The ServiceAccount the pod runs as is the one the bindings grant to.
	sa := find(t, objs, "ServiceAccount").GetName()
	if d.Spec.Template.Spec.ServiceAccountName != sa {
		t.Errorf("pod runs as %q, ServiceAccount is %q", d.Spec.Template.Spec.ServiceAccountName, sa)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		var b rbacv1.RoleBinding // same shape as ClusterRoleBinding for subjects and roleRef
		o := find(t, objs, kind)
		into(t, map[string]any{"subjects": o.Object["subjects"], "roleRef": o.Object["roleRef"]}, &b)
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != sa || b.Subjects[0].Namespace != releaseNamespace {
			t.Errorf("%s subjects = %+v, want ServiceAccount %s/%s", kind, b.Subjects, releaseNamespace, sa)
		}
		roleKind := strings.TrimSuffix(kind, "Binding")
		if b.RoleRef.Kind != roleKind {
			t.Errorf("%s refers to a %s, want a %s", kind, b.RoleRef.Kind, roleKind)
		}
		findNamed(t, objs, roleKind, b.RoleRef.Name) // the role it binds is the chart's
	}

	// The metrics Service reaches the operator pods, and only them.
	var svc corev1.Service
	into(t, find(t, objs, "Service").Object, &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", k, v, d.Spec.Template.Labels)
		}
	}
	if svc.Spec.Selector["app.kubernetes.io/name"] == "restkube-dbserver" {
		t.Error("the metrics Service would select the databases' pods")
	}
}

func TestDeploymentValues(t *testing.T) {
	digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := map[string]struct {
		files        []string
		set          []string
		wantImage    string
		wantDBServer string
	}{
		"a tag overrides appVersion for both images": {
			set:          []string{"image.tag=v2.0.0"},
			wantImage:    "restkube/restkube:v2.0.0",
			wantDBServer: "restkube/restkube:v2.0.0",
		},
		"a digest pins both images": {
			set:          []string{"image.repository=reg.test/rk", "image.digest=" + digest},
			wantImage:    "reg.test/rk:v0.1.0@" + digest,
			wantDBServer: "reg.test/rk:v0.1.0@" + digest,
		},
		"dbserverImage overrides only the databases' image": {
			set:          []string{"dbserverImage=reg.test/dbserver:v3"},
			wantImage:    "restkube/restkube:v0.1.0",
			wantDBServer: "reg.test/dbserver:v3",
		},
		"every optional feature": {
			files:        valueSets["every optional feature"],
			wantImage:    "registry.example.com/platform/restkube:v9.9.9@" + digest,
			wantDBServer: "registry.example.com/platform/restkube-dbserver:v9.9.9",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, c := deploymentOf(t, render(t, tc.files, tc.set...))
			if c.Image != tc.wantImage {
				t.Errorf("image = %q, want %q", c.Image, tc.wantImage)
			}
			if v, _ := envValue(c, "DBSERVER_IMAGE"); v != tc.wantDBServer {
				t.Errorf("DBSERVER_IMAGE = %q, want %q", v, tc.wantDBServer)
			}
		})
	}
}

func TestEveryOptionalFeature(t *testing.T) {
	objs := render(t, valueSets["every optional feature"])
	d, c := deploymentOf(t, objs)
	spec := d.Spec.Template.Spec

	wantArgs := []string{"--leader-elect", "--metrics-bind-address=:9090", "--health-probe-bind-address=:9440", "-v=2"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if v, ok := envValue(c, "GOMEMLIMIT"); !ok || v != "450MiB" {
		t.Errorf("extraEnv GOMEMLIMIT = %q (present %v)", v, ok)
	}
	if ptr.Deref(d.Spec.Replicas, 0) != 2 || c.ImagePullPolicy != corev1.PullAlways ||
		len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "regcred" ||
		spec.PriorityClassName != "system-cluster-critical" || spec.NodeSelector["kubernetes.io/os"] != "linux" ||
		len(spec.Tolerations) != 1 || spec.Affinity == nil || spec.Affinity.NodeAffinity == nil ||
		d.Spec.Template.Annotations["example.com/team"] != "platform" || d.Spec.Template.Labels["example.com/tier"] != "control" ||
		spec.ServiceAccountName != "restkube-operator" || c.Resources.Limits.Cpu().String() != "1" {
		t.Errorf("pod spec does not carry the values:\n%+v", d.Spec.Template)
	}

	var svc corev1.Service
	into(t, find(t, objs, "Service").Object, &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9091 || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("metrics Service ports = %+v", svc.Spec.Ports)
	}

	sm := find(t, objs, "ServiceMonitor")
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels = %v, want release=prometheus", sm.GetLabels())
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor endpoints = %v", eps)
	}
	ep := eps[0].(map[string]any)
	if ep["port"] != "metrics" || ep["path"] != "/metrics" || ep["interval"] != "30s" || ep["scrapeTimeout"] != "10s" {
		t.Errorf("ServiceMonitor endpoint = %v", ep)
	}
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if !reflect.DeepEqual(sel, svc.Spec.Selector) {
		t.Errorf("ServiceMonitor selects %v, but the Service's labels-selector pair is %v", sel, svc.Spec.Selector)
	}
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service's labels %v", k, v, svc.Labels)
		}
	}

	var np networkingv1.NetworkPolicy
	into(t, find(t, objs, "NetworkPolicy").Object, &np)
	if !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, svc.Spec.Selector) {
		t.Errorf("NetworkPolicy selects %v, want the operator pods %v", np.Spec.PodSelector.MatchLabels, svc.Spec.Selector)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "metrics" ||
		len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector == nil {
		t.Errorf("NetworkPolicy ingress = %+v, want only the metrics port from the monitoring namespace", np.Spec.Ingress)
	}
}

func TestCRDIsKeptAndGated(t *testing.T) {
	crds := map[string]string{"databases.db.restkube.dev": "Database", "databasebackups.db.restkube.dev": "DatabaseBackup"}
	for name, kind := range crds {
		var crd apiextensionsv1.CustomResourceDefinition
		into(t, findNamed(t, render(t, nil), "CustomResourceDefinition", name).Object, &crd)
		if crd.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s annotations = %v, want helm.sh/resource-policy: keep", name, crd.Annotations)
		}
		if crd.Spec.Names.Kind != kind {
			t.Errorf("CRD %s has kind %s, want %s", name, crd.Spec.Names.Kind, kind)
		}
	}
	for _, o := range render(t, nil, "crds.create=false") {
		if o.GetKind() == "CustomResourceDefinition" {
			t.Errorf("crds.create=false still renders the CRD %s", o.GetName())
		}
	}
}

// TestChartMatchesGeneratedManifests is the guard against drift: the chart must grant exactly
// the RBAC of config/rbac (the manager's ClusterRole being what controller-gen derives from the
// controller's markers) and ship the same CRD as config/crd/bases.
func TestChartMatchesGeneratedManifests(t *testing.T) {
	objs := render(t, nil)

	roles := map[string]struct {
		file, kind, name string
	}{
		"manager ClusterRole":         {"config/rbac/role.yaml", "ClusterRole", "restkube-manager"},
		"leader-election Role":        {"config/rbac/leader_election_role.yaml", "Role", "restkube-leader-election"},
		"database-editor ClusterRole": {"config/rbac/database_editor_role.yaml", "ClusterRole", "restkube-database-editor"},
		"database-viewer ClusterRole": {"config/rbac/database_viewer_role.yaml", "ClusterRole", "restkube-database-viewer"},
	}
	for name, tc := range roles {
		t.Run(name+" equals "+tc.file, func(t *testing.T) {
			var want, got rbacv1.ClusterRole
			into(t, find(t, readObjects(t, tc.file), tc.kind).Object, &want)
			into(t, findNamed(t, objs, tc.kind, tc.name).Object, &got)
			if len(want.Rules) == 0 {
				t.Fatalf("%s has no rules", tc.file)
			}
			if !reflect.DeepEqual(got.Rules, want.Rules) {
				t.Errorf("chart rules differ from %s (run `make helm`):\nchart:  %+v\nconfig: %+v", tc.file, got.Rules, want.Rules)
			}
			for k, v := range want.Labels {
				if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") && got.Labels[k] != v {
					t.Errorf("aggregation label %s=%s missing from the chart's role", k, v)
				}
			}
		})
	}

	for _, plural := range []string{"databases", "databasebackups"} {
		file := "config/crd/bases/db.restkube.dev_" + plural + ".yaml"
		t.Run("CRD spec equals "+file, func(t *testing.T) {
			var want, got apiextensionsv1.CustomResourceDefinition
			into(t, find(t, readObjects(t, file), "CustomResourceDefinition").Object, &want)
			into(t, findNamed(t, objs, "CustomResourceDefinition", plural+".db.restkube.dev").Object, &got)
			if !reflect.DeepEqual(got.Spec, want.Spec) {
				t.Errorf("the chart's %s CRD spec differs from %s (run `make helm`)", plural, file)
			}
		})
	}
}

// TestChartMatchesKustomize keeps the two install paths equivalent: the manager runs with the
// same flags, environment and probes whether installed by Helm or by `kubectl apply -k`.
func TestChartMatchesKustomize(t *testing.T) {
	_, chart := deploymentOf(t, render(t, nil))
	_, kust := deploymentOf(t, kustomizeDefault(t))

	if !slices.Equal(chart.Args, kust.Args) {
		t.Errorf("args differ:\n chart:     %q\n kustomize: %q", chart.Args, kust.Args)
	}
	if !slices.Equal(chart.Command, kust.Command) {
		t.Errorf("command differs: chart %q, kustomize %q", chart.Command, kust.Command)
	}
	envNames := func(c corev1.Container) []string {
		var out []string
		for _, e := range c.Env {
			out = append(out, e.Name)
		}
		sort.Strings(out)
		return out
	}
	if !slices.Equal(envNames(chart), envNames(kust)) {
		t.Errorf("environment differs: chart %q, kustomize %q", envNames(chart), envNames(kust))
	}
	if v, _ := envValue(kust, "DBSERVER_IMAGE"); v != kust.Image {
		t.Errorf("kustomize DBSERVER_IMAGE = %q, want its own image %q", v, kust.Image)
	}
	probe := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return ""
		}
		return p.HTTPGet.Path
	}
	if probe(chart.LivenessProbe) != probe(kust.LivenessProbe) || probe(chart.ReadinessProbe) != probe(kust.ReadinessProbe) {
		t.Errorf("probe paths differ: chart %s/%s, kustomize %s/%s", probe(chart.LivenessProbe), probe(chart.ReadinessProbe),
			probe(kust.LivenessProbe), probe(kust.ReadinessProbe))
	}
	if !reflect.DeepEqual(chart.Resources, kust.Resources) {
		t.Errorf("default resources differ: chart %v, kustomize %v", chart.Resources, kust.Resources)
	}
}
