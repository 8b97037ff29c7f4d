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
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// dbserverUID is the non-root user the dbserver runs as; fsGroup makes the volume writable by it.
const dbserverUID = 65532

// gomemlimitPercent of the container's memory limit is given to the Go runtime as GOMEMLIMIT,
// leaving headroom for memory the runtime does not account (bbolt's mmap, thread stacks).
const gomemlimitPercent = 90

// imageFor is the image db runs: spec.image, else the operator's default. Empty means none is
// known, which the reconciler reports instead of creating a pod that cannot start.
func imageFor(db *dbv1.Database, opts Options) string {
	if db.Spec.Image != "" {
		return db.Spec.Image
	}
	return opts.DefaultImage
}

// deploymentFor returns the desired Deployment <name>: one dbserver pod following the pod
// contract. There is one replica and the Recreate strategy because the bbolt file takes an
// exclusive lock: two pods may never overlap.
func deploymentFor(db *dbv1.Database, opts Options) *appsv1.Deployment {
	podLabels := labelsFor(db)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMetaFor(db, db.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(db)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					// The dbserver never talks to the Kubernetes API.
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:        ptr.To(true),
						RunAsUser:           ptr.To[int64](dbserverUID),
						RunAsGroup:          ptr.To[int64](dbserverUID),
						FSGroup:             ptr.To[int64](dbserverUID),
						FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
						SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{dbserverContainer(db, opts)},
					Volumes: []corev1.Volume{
						{Name: "data", VolumeSource: corev1.VolumeSource{
							PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: db.DataClaimName()},
						}},
						{Name: "config", VolumeSource: corev1.VolumeSource{
							Projected: &corev1.ProjectedVolumeSource{
								DefaultMode: ptr.To[int32](0o440),
								Sources:     configSources(db),
							},
						}},
						// The root filesystem is read-only; give the process a scratch /tmp.
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

func dbserverContainer(db *dbv1.Database, opts Options) corev1.Container {
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString("http"),
			}},
			PeriodSeconds:    period,
			TimeoutSeconds:   2,
			FailureThreshold: 3,
		}
	}
	c := corev1.Container{
		Name:    "dbserver",
		Image:   imageFor(db, opts),
		Command: []string{"/dbserver"},
		Args: []string{
			"serve",
			"--data-dir=" + dataDir,
			"--config-dir=" + configDir,
			"--listen=:" + strconv.Itoa(listenPort),
		},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: listenPort, Protocol: corev1.ProtocolTCP}},
		// Opening a large bbolt file can take a while; liveness starts counting only after it.
		StartupProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromString("http"),
			}},
			PeriodSeconds:    2,
			FailureThreshold: 150,
		},
		LivenessProbe:  probe("/healthz", 10),
		ReadinessProbe: probe("/readyz", 5),
		Resources:      *db.Spec.Resources.DeepCopy(),
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: dataDir},
			{Name: "config", MountPath: configDir, ReadOnly: true},
			{Name: "tmp", MountPath: "/tmp"},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if limit, ok := db.Spec.Resources.Limits[corev1.ResourceMemory]; ok && limit.Value() > 0 {
		c.Env = append(c.Env, corev1.EnvVar{
			Name:  "GOMEMLIMIT",
			Value: strconv.FormatInt(limit.Value()/100*gomemlimitPercent, 10),
		})
	}
	return c
}

// configSources are the files of --config-dir, all in one projected volume so the kubelet
// swaps them together: settings.json, api-key, signing-key and, with Auth0, auth0-client-secret.
func configSources(db *dbv1.Database) []corev1.VolumeProjection {
	item := func(key, path string) corev1.KeyToPath { return corev1.KeyToPath{Key: key, Path: path} }
	secret := func(name string, items ...corev1.KeyToPath) corev1.VolumeProjection {
		return corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: name},
			Items:                items,
		}}
	}
	credentials := []corev1.KeyToPath{item(keySigningKey, keySigningKey)}
	var apiKeyRef *dbv1.SecretKeyRef
	if db.Spec.APIKeys != nil {
		apiKeyRef = db.Spec.APIKeys.SecretRef
	}
	if apiKeyRef == nil {
		credentials = append(credentials, item(keyAPIKey, keyAPIKey))
	}
	sources := []corev1.VolumeProjection{
		secret(db.SettingsSecretName(), item(keySettings, keySettings)),
		secret(db.CredentialsSecretName(), credentials...),
	}
	if apiKeyRef != nil {
		sources = append(sources, secret(apiKeyRef.Name, item(apiKeyRef.Key, keyAPIKey)))
	}
	if a := db.Spec.Auth; a != nil && a.Auth0 != nil {
		sources = append(sources, secret(a.Auth0.SecretRef.Name, item(a.Auth0.SecretRef.Key, keyAuth0Secret)))
	}
	if b := db.Spec.Backup; b != nil {
		sources = append(sources, objectStoreSources(&b.ObjectStore)...)
	}
	return sources
}
