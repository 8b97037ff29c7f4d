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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// Reasons the operator sets on conditions and events.
const (
	ReasonAvailable         = "Available"
	ReasonProgressing       = "Progressing"
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonSecretKeyNotFound = "SecretKeyNotFound"
	ReasonNoImage           = "NoImage"
	ReasonStorageRejected   = "StorageRejected"
	ReasonInvalidSettings   = "InvalidSettings"
	reasonAsExpected        = "AsExpected"
)

// stall is a condition only a human can fix: a missing Secret, a rejected change.
type stall struct {
	Reason  string
	Message string
}

// observation is what one reconcile found, from which statusFor decides the status.
type observation struct {
	// stall is set when progress needs a human.
	stall *stall
	// deployment is the Deployment as last applied, nil when it was not applied.
	deployment *appsv1.Deployment
	// claimSize is the storage the data claim requests, nil when unknown.
	claimSize *resource.Quantity
}

// deploymentAvailable reports whether d runs its current spec with its pod available.
func deploymentAvailable(d *appsv1.Deployment) bool {
	if d == nil || d.Status.ObservedGeneration < d.Generation {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.UpdatedReplicas < want || d.Status.AvailableReplicas < want {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// statusFor returns db's new status, given what the reconcile observed. It starts from the
// current status so that unchanged conditions keep their lastTransitionTime.
func statusFor(db *dbv1.Database, obs observation) dbv1.DatabaseStatus {
	st := *db.Status.DeepCopy()
	st.ObservedGeneration = db.Generation
	st.Endpoint = endpointFor(db)
	st.CredentialsSecret = db.CredentialsSecretName()
	if obs.claimSize != nil {
		st.StorageSize = ptr.To(obs.claimSize.DeepCopy())
	}
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: db.Generation,
		})
	}
	switch {
	case obs.stall != nil:
		set(dbv1.ConditionReady, metav1.ConditionFalse, obs.stall.Reason, obs.stall.Message)
		set(dbv1.ConditionStalled, metav1.ConditionTrue, obs.stall.Reason, obs.stall.Message)
		set(dbv1.ConditionReconciling, metav1.ConditionFalse, obs.stall.Reason, "stalled: see the Stalled condition")
	case deploymentAvailable(obs.deployment):
		msg := fmt.Sprintf("dbserver is available at %s", st.Endpoint)
		set(dbv1.ConditionReady, metav1.ConditionTrue, ReasonAvailable, msg)
		set(dbv1.ConditionStalled, metav1.ConditionFalse, reasonAsExpected, "no problem found")
		set(dbv1.ConditionReconciling, metav1.ConditionFalse, ReasonAvailable, msg)
	default:
		msg := fmt.Sprintf("waiting for Deployment %s to become available", db.Name)
		set(dbv1.ConditionReady, metav1.ConditionFalse, ReasonProgressing, msg)
		set(dbv1.ConditionStalled, metav1.ConditionFalse, reasonAsExpected, "no problem found")
		set(dbv1.ConditionReconciling, metav1.ConditionTrue, ReasonProgressing, msg)
	}
	return st
}

// transition is an event worth telling the user about: the Ready condition changed.
type transition struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
}

// transitionFor returns the event for going from the old to the new conditions, or nil when
// Ready kept its status and reason (so a steady state emits nothing).
func transitionFor(old, cur []metav1.Condition) *transition {
	n := meta.FindStatusCondition(cur, dbv1.ConditionReady)
	if n == nil {
		return nil
	}
	if o := meta.FindStatusCondition(old, dbv1.ConditionReady); o != nil && o.Status == n.Status && o.Reason == n.Reason && o.Message == n.Message {
		return nil
	}
	typ := corev1.EventTypeNormal
	if meta.IsStatusConditionTrue(cur, dbv1.ConditionStalled) {
		typ = corev1.EventTypeWarning
	}
	return &transition{Type: typ, Reason: n.Reason, Message: n.Message}
}
