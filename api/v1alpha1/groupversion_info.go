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

// Package v1alpha1 holds the Database API (db.restkube.dev/v1alpha1): the schema a platform
// team writes, and the status the operator reports back.
// +kubebuilder:object:generate=true
// +groupName=db.restkube.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "db.restkube.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this package's types with a runtime.Scheme. It is apimachinery's,
	// not controller-runtime's, so importing the API pulls in nothing but apimachinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Database{}, &DatabaseList{}, &DatabaseBackup{}, &DatabaseBackupList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
