package controllers

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

func TestDeploymentForFollowsThePodContract(t *testing.T) {
	db := newTestDatabase()
	d := deploymentFor(db, Options{DefaultImage: "registry.local/restkube:1"})

	if d.Name != "todo" || d.Namespace != "apps" || !hasControllerRef(d.OwnerReferences, db) {
		t.Errorf("deployment %s/%s owners %+v, want apps/todo owned by the Database", d.Namespace, d.Name, d.OwnerReferences)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1 (bbolt takes an exclusive lock)", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate", d.Spec.Strategy.Type)
	}
	if !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not match pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || *psc.RunAsUser != 65532 || !*psc.RunAsNonRoot || *psc.FSGroup != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v, want uid 65532, non-root, fsGroup 65532, seccomp RuntimeDefault", psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the dbserver needs no API token; want automountServiceAccountToken false")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "registry.local/restkube:1" {
		t.Errorf("image = %q, want the default image", c.Image)
	}
	wantCmd := []string{"/dbserver", "serve", "--data-dir=/var/lib/restkube", "--config-dir=/etc/restkube", "--listen=:8080"}
	if got := append(append([]string{}, c.Command...), c.Args...); !reflect.DeepEqual(got, wantCmd) {
		t.Errorf("command = %q, want %q", got, wantCmd)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" {
		t.Errorf("ports = %+v, want http 8080", c.Ports)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe = %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe = %+v, want GET /readyz", c.ReadinessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		!reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v, want read-only root, no escalation, drop ALL", sc)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	if mounts["data"].MountPath != "/var/lib/restkube" || mounts["config"].MountPath != "/etc/restkube" || !mounts["config"].ReadOnly {
		t.Errorf("mounts = %+v, want data at /var/lib/restkube and config read-only at /etc/restkube", c.VolumeMounts)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if pvc := vols["data"].PersistentVolumeClaim; pvc == nil || pvc.ClaimName != "todo-data" {
		t.Errorf("data volume = %+v, want claim todo-data", vols["data"])
	}
	if vols["config"].Projected == nil {
		t.Fatalf("config volume = %+v, want one projected volume", vols["config"])
	}
}

func TestConfigSources(t *testing.T) {
	// file is path -> "secret/key" for every file of the projected volume.
	files := func(db *dbv1.Database) map[string]string {
		out := map[string]string{}
		for _, p := range configSources(db) {
			for _, it := range p.Secret.Items {
				out[it.Path] = p.Secret.Name + "/" + it.Key
			}
		}
		return out
	}
	cases := map[string]struct {
		mutate func(*dbv1.Database)
		want   map[string]string
	}{
		"with Auth0 all four files are projected": {
			want: map[string]string{
				"settings.json":       "todo-settings/settings.json",
				"api-key":             "todo-credentials/api-key",
				"signing-key":         "todo-credentials/signing-key",
				"auth0-client-secret": "todo-auth0/clientSecret",
			},
		},
		"without Auth0 there is no auth0-client-secret": {
			mutate: func(db *dbv1.Database) { db.Spec.Auth = nil },
			want: map[string]string{
				"settings.json": "todo-settings/settings.json",
				"api-key":       "todo-credentials/api-key",
				"signing-key":   "todo-credentials/signing-key",
			},
		},
		"a user-named API key replaces the generated one": {
			mutate: func(db *dbv1.Database) {
				db.Spec.Auth = nil
				db.Spec.APIKeys.SecretRef = &dbv1.SecretKeyRef{Name: "todo-keys", Key: "full"}
			},
			want: map[string]string{
				"settings.json": "todo-settings/settings.json",
				"api-key":       "todo-keys/full",
				"signing-key":   "todo-credentials/signing-key",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			if tc.mutate != nil {
				tc.mutate(db)
			}
			if got := files(db); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("projected files = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeploymentForResourcesAndImage(t *testing.T) {
	cases := map[string]struct {
		resources     corev1.ResourceRequirements
		image         string
		wantImage     string
		wantGoMemLimt string // "" means no GOMEMLIMIT
	}{
		"no limit, no GOMEMLIMIT; the default image": {
			wantImage: "default:1",
		},
		"a memory limit sets GOMEMLIMIT to 90% of it": {
			resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100M")},
			},
			wantImage: "default:1", wantGoMemLimt: "90000000",
		},
		"spec.image overrides the default": {
			image: "mine:2", wantImage: "mine:2",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			db.Spec.Resources = tc.resources
			db.Spec.Image = tc.image
			c := deploymentFor(db, Options{DefaultImage: "default:1"}).Spec.Template.Spec.Containers[0]
			if c.Image != tc.wantImage {
				t.Errorf("image = %q, want %q", c.Image, tc.wantImage)
			}
			if !reflect.DeepEqual(c.Resources, tc.resources) {
				t.Errorf("resources = %+v, want the spec's %+v", c.Resources, tc.resources)
			}
			got := ""
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					got = e.Value
				}
			}
			if got != tc.wantGoMemLimt {
				t.Errorf("GOMEMLIMIT = %q, want %q", got, tc.wantGoMemLimt)
			}
		})
	}
}
