package controllers

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestServiceFor(t *testing.T) {
	db := newTestDatabase()
	svc := serviceFor(db)
	if svc.Name != "todo" || svc.Namespace != "apps" || !hasControllerRef(svc.OwnerReferences, db) {
		t.Errorf("service %s/%s owners %+v, want apps/todo owned by the Database", svc.Namespace, svc.Name, svc.OwnerReferences)
	}
	want := []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")}}
	if !reflect.DeepEqual(svc.Spec.Ports, want) {
		t.Errorf("ports = %+v, want %+v", svc.Spec.Ports, want)
	}
	dep := deploymentFor(db, Options{DefaultImage: "img"})
	if !subset(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	if got := endpointFor(db); got != "http://todo.apps.svc:80" {
		t.Errorf("endpoint = %q, want http://todo.apps.svc:80", got)
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}
