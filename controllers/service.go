/*
Copyright 2026 The RestKube Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// servicePort is the port clients use; it forwards to the dbserver's listenPort.
const servicePort = 80

// serviceFor returns the desired Service <name>, port 80 to the dbserver's port 8080.
func serviceFor(db *dbv1.Database) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMetaFor(db, db.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(db),
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Protocol:   corev1.ProtocolTCP,
				Port:       servicePort,
				TargetPort: intstr.FromString("http"),
			}},
		},
	}
}

// endpointFor is the in-cluster URL of db's API, reported in status.endpoint.
func endpointFor(db *dbv1.Database) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", db.Name, db.Namespace, servicePort)
}
