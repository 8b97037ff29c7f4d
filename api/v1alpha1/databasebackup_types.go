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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectStoreSpec names an S3-compatible bucket and the credentials to reach it.
type ObjectStoreSpec struct {
	// Bucket is the bucket's name.
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`
	// +required
	Bucket string `json:"bucket"`

	// Prefix is prepended to the object keys; a Database's backups go under
	// <prefix><namespace>/<name>/.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.contains('..') && !self.contains('//')",message="prefix must not start with /, nor hold .. or //"
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Endpoint is the store's URL (default https://s3.amazonaws.com).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://[^/?#@]+/?$`
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Region is the bucket's region (default us-east-1).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[^ /]*$`
	// +optional
	Region string `json:"region,omitempty"`

	// PathStyle addresses the bucket in the URL's path, as most self-hosted stores need.
	// +optional
	PathStyle bool `json:"pathStyle,omitempty"`

	// Credentials name the Secret keys holding the access key id and the secret access key.
	// +required
	Credentials ObjectStoreCredentials `json:"credentials"`

	// CA names a Secret key holding the PEM CA the store's TLS certificate is checked against.
	// +optional
	CA *SecretKeyRef `json:"ca,omitempty"`
}

// ObjectStoreCredentials name the store's access keys.
type ObjectStoreCredentials struct {
	// AccessKeyID names the Secret key holding the access key id.
	// +required
	AccessKeyID SecretKeyRef `json:"accessKeyID"`
	// SecretAccessKey names the Secret key holding the secret access key.
	// +required
	SecretAccessKey SecretKeyRef `json:"secretAccessKey"`
}

// BackupSpec configures a Database's backups.
type BackupSpec struct {
	// ObjectStore is where backups are written.
	// +required
	ObjectStore ObjectStoreSpec `json:"objectStore"`

	// Schedule takes a backup on a cron schedule ("0 3 * * *", "@daily"), in UTC; empty takes
	// backups only when a DatabaseBackup asks.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Retention bounds the backups kept in the store; applied after each successful backup.
	// +optional
	Retention *RetentionSpec `json:"retention,omitempty"`
}

// RetentionSpec says which backups to keep: a backup is deleted when it is beyond the newest
// keepLast or older than maxAgeDays. The newest backup is never deleted.
type RetentionSpec struct {
	// KeepLast keeps this many of the newest backups.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	KeepLast *int32 `json:"keepLast,omitempty"`
	// MaxAgeDays deletes backups older than this many days.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	// +optional
	MaxAgeDays *int32 `json:"maxAgeDays,omitempty"`
}

// BootstrapSpec says what a new Database starts with.
type BootstrapSpec struct {
	// FromBackup starts the Database with a backup's data.
	// +optional
	FromBackup *FromBackupSpec `json:"fromBackup,omitempty"`
}

// FromBackupSpec names a backup: a DatabaseBackup in the same namespace, or an object store
// and the object's key.
// +kubebuilder:validation:XValidation:rule="has(self.backupName) != (has(self.objectStore) && has(self.key))",message="set either backupName, or objectStore and key"
// +kubebuilder:validation:XValidation:rule="has(self.objectStore) == has(self.key)",message="objectStore and key go together"
type FromBackupSpec struct {
	// BackupName names a completed DatabaseBackup in the Database's namespace.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// ObjectStore is the store holding the backup (with key).
	// +optional
	ObjectStore *ObjectStoreSpec `json:"objectStore,omitempty"`

	// Key is the backup's object key in the bucket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Key string `json:"key,omitempty"`
}

// BackupPhase is where a DatabaseBackup stands.
// +kubebuilder:validation:Enum=Pending;Running;Completed;Failed
type BackupPhase string

// The phases of a DatabaseBackup.
const (
	BackupPending   BackupPhase = "Pending"
	BackupRunning   BackupPhase = "Running"
	BackupCompleted BackupPhase = "Completed"
	BackupFailed    BackupPhase = "Failed"
)

// DatabaseBackupSpec names the Database to back up.
type DatabaseBackupSpec struct {
	// Database is the name of the Database, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database is immutable"
	// +required
	Database string `json:"database"`
}

// DatabaseBackupStatus records one backup.
type DatabaseBackupStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is Pending, Running, Completed or Failed.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`
	// BackupID is the dbserver's id of the backup run.
	// +optional
	BackupID string `json:"backupID,omitempty"`
	// StartedAt is when the dbserver started the backup.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// CompletedAt is when it ended.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// ObjectStore is the store the backup went to (a copy of the Database's, so that a restore
	// works after the Database is gone).
	// +optional
	ObjectStore *ObjectStoreSpec `json:"objectStore,omitempty"`
	// Key is the archive's object key in the bucket.
	// +optional
	Key string `json:"key,omitempty"`
	// Size is the archive's size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// Documents is the number of documents backed up.
	// +optional
	Documents int64 `json:"documents,omitempty"`
	// Error says why the backup failed.
	// +optional
	Error string `json:"error,omitempty"`
	// Conditions are Ready, Reconciling and Stalled (kstatus-compatible).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DatabaseBackup is one backup of a Database to its object store.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rdbb,categories=restkube
// +kubebuilder:printcolumn:name="Database",type=string,JSONPath=`.spec.database`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.status.size`
// +kubebuilder:printcolumn:name="Key",type=string,JSONPath=`.status.key`,priority=1
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DatabaseBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DatabaseBackupSpec `json:"spec"`
	// +optional
	Status DatabaseBackupStatus `json:"status,omitempty"`
}

// DatabaseBackupList is a list of DatabaseBackups.
// +kubebuilder:object:root=true
type DatabaseBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseBackup `json:"items"`
}
