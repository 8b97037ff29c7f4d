package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// availableDeployment is a Deployment whose controller reports its one pod available.
func availableDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: 2},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}},
		},
	}
}

func TestDeploymentAvailable(t *testing.T) {
	cases := map[string]struct {
		mutate func(*appsv1.Deployment)
		want   bool
	}{
		"available with the current spec":      {mutate: func(*appsv1.Deployment) {}, want: true},
		"the controller has not seen the spec": {mutate: func(d *appsv1.Deployment) { d.Generation = 3 }, want: false},
		"the new pod is not up yet":            {mutate: func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 0 }, want: false},
		"no pod is available":                  {mutate: func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 0 }, want: false},
		"the Available condition is False": {
			mutate: func(d *appsv1.Deployment) { d.Status.Conditions[0].Status = corev1.ConditionFalse }, want: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := availableDeployment()
			tc.mutate(d)
			if got := deploymentAvailable(d); got != tc.want {
				t.Fatalf("deploymentAvailable = %v, want %v", got, tc.want)
			}
		})
	}
	if deploymentAvailable(nil) {
		t.Error("a Deployment not applied is not available")
	}
}

func TestStatusFor(t *testing.T) {
	type conds struct{ ready, reconciling, stalled metav1.ConditionStatus }
	cases := map[string]struct {
		obs        observation
		want       conds
		wantReason string
	}{
		"a missing Secret stalls": {
			obs:        observation{stall: &stall{Reason: ReasonSecretNotFound, Message: `Secret "x" not found`}},
			want:       conds{metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue},
			wantReason: ReasonSecretNotFound,
		},
		"a Deployment not yet available is progressing": {
			obs:        observation{deployment: &appsv1.Deployment{}},
			want:       conds{metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse},
			wantReason: ReasonProgressing,
		},
		"an available Deployment makes the Database Ready": {
			obs:        observation{deployment: availableDeployment()},
			want:       conds{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse},
			wantReason: ReasonAvailable,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			st := statusFor(db, tc.obs)
			got := conds{
				meta.FindStatusCondition(st.Conditions, dbv1.ConditionReady).Status,
				meta.FindStatusCondition(st.Conditions, dbv1.ConditionReconciling).Status,
				meta.FindStatusCondition(st.Conditions, dbv1.ConditionStalled).Status,
			}
			if got != tc.want {
				t.Errorf("Ready/Reconciling/Stalled = %v, want %v", got, tc.want)
			}
			ready := meta.FindStatusCondition(st.Conditions, dbv1.ConditionReady)
			if ready.Reason != tc.wantReason || ready.ObservedGeneration != 3 {
				t.Errorf("Ready = %+v, want reason %s at generation 3", ready, tc.wantReason)
			}
			if st.ObservedGeneration != 3 || st.Endpoint != "http://todo.apps.svc:80" || st.CredentialsSecret != "todo-credentials" {
				t.Errorf("status = %+v, want observedGeneration 3, the endpoint and credentials Secret", st)
			}
		})
	}
}

func TestStatusForKeepsTransitionTimeOfUnchangedConditions(t *testing.T) {
	db := newTestDatabase()
	first := statusFor(db, observation{deployment: &appsv1.Deployment{}})
	past := metav1.NewTime(metav1.Now().Add(-3600e9)).Rfc3339Copy()
	for i := range first.Conditions {
		first.Conditions[i].LastTransitionTime = past
	}
	db.Status = first
	second := statusFor(db, observation{deployment: &appsv1.Deployment{}})
	for _, c := range second.Conditions {
		if !c.LastTransitionTime.Equal(&past) {
			t.Errorf("%s lastTransitionTime moved to %v though it did not change", c.Type, c.LastTransitionTime)
		}
	}
}

func TestTransitionFor(t *testing.T) {
	db := newTestDatabase()
	progressing := statusFor(db, observation{deployment: &appsv1.Deployment{}}).Conditions
	ready := statusFor(db, observation{deployment: availableDeployment()}).Conditions
	stalled := statusFor(db, observation{stall: &stall{Reason: ReasonSecretNotFound, Message: "m"}}).Conditions
	cases := map[string]struct {
		old, cur   []metav1.Condition
		wantType   string // "" means no event
		wantReason string
	}{
		"the first status is an event":    {old: nil, cur: progressing, wantType: corev1.EventTypeNormal, wantReason: ReasonProgressing},
		"a steady state is silent":        {old: ready, cur: ready},
		"becoming ready is an event":      {old: progressing, cur: ready, wantType: corev1.EventTypeNormal, wantReason: ReasonAvailable},
		"stalling is a warning":           {old: ready, cur: stalled, wantType: corev1.EventTypeWarning, wantReason: ReasonSecretNotFound},
		"recovering from a stall is news": {old: stalled, cur: progressing, wantType: corev1.EventTypeNormal, wantReason: ReasonProgressing},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := transitionFor(tc.old, tc.cur)
			if tc.wantType == "" {
				if got != nil {
					t.Fatalf("transitionFor = %+v, want no event", got)
				}
				return
			}
			if got == nil || got.Type != tc.wantType || got.Reason != tc.wantReason {
				t.Fatalf("transitionFor = %+v, want a %s event with reason %s", got, tc.wantType, tc.wantReason)
			}
		})
	}
}
