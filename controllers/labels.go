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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// Labels and names shared by every owned object.
const (
	// FieldOwner is the server-side apply field manager of every write the operator makes.
	FieldOwner = "restkube-operator"

	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"

	appName   = "restkube-dbserver"
	managedBy = "restkube-operator"

	// Paths and port of the pod contract (see dbserver serve).
	dataDir    = "/var/lib/restkube"
	configDir  = "/etc/restkube"
	listenPort = 8080

	// Keys of the files under --config-dir.
	keySettings    = "settings.json"
	keyAPIKey      = "api-key"
	keySigningKey  = "signing-key"
	keyAuth0Secret = "auth0-client-secret"
)

// selectorLabels select the pods of one Database; they never change after creation, because a
// Deployment's selector is immutable.
func selectorLabels(db *dbv1.Database) map[string]string {
	return map[string]string{labelName: appName, labelInstance: db.Name}
}

// labelsFor are the standard labels every owned object carries.
func labelsFor(db *dbv1.Database) map[string]string {
	l := selectorLabels(db)
	l[labelManagedBy] = managedBy
	return l
}

// objectMetaFor is the metadata of an owned object named name, controlled by db.
func objectMetaFor(db *dbv1.Database, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       db.Namespace,
		Labels:          labelsFor(db),
		OwnerReferences: []metav1.OwnerReference{ownerReference(db)},
	}
}

// ownerReference makes db the controller of an object, so the garbage collector deletes the
// object with db and the manager maps the object's events back to db.
func ownerReference(db *dbv1.Database) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         dbv1.GroupVersion.String(),
		Kind:               "Database",
		Name:               db.Name,
		UID:                db.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}
