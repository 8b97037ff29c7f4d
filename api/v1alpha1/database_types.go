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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DatabaseSpec is the desired state of a Database.
type DatabaseSpec struct {
	// Storage describes the volume that holds the database file.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// Auth configures login for external users through Auth0 or another OIDC issuer.
	// +optional
	Auth *AuthSpec `json:"auth,omitempty"`

	// APIKeys names the full-access key and the restricted keys for web pages.
	// +optional
	APIKeys *APIKeysSpec `json:"apiKeys,omitempty"`

	// CORS lists the origins allowed to call the API from a browser.
	// +optional
	CORS *CORSSpec `json:"cors,omitempty"`

	// Collections declares collections, their indexes and who may access them.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Collections []CollectionSpec `json:"collections,omitempty"`

	// Limits bound what one request may ask of the server.
	// +optional
	Limits *LimitsSpec `json:"limits,omitempty"`

	// Realtime serves restdb.io's Server-Sent Events stream at /realtime (off by default).
	// +optional
	Realtime *RealtimeSpec `json:"realtime,omitempty"`

	// Resources of the dbserver container; a memory limit also sets GOMEMLIMIT to 90% of it.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Backup configures backups to an S3-compatible object store, on a schedule or on demand
	// (DatabaseBackup).
	// +optional
	Backup *BackupSpec `json:"backup,omitempty"`

	// Bootstrap says what a new Database starts with; it is read only while its volume is
	// empty, so it cannot be changed later.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="bootstrap is immutable"
	// +optional
	Bootstrap *BootstrapSpec `json:"bootstrap,omitempty"`

	// Image overrides the dbserver image the operator was started with.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// Console serves the web console at /console/ (off unless enabled: in a cluster the
	// database's API is often exposed to the internet, and the console is opt-in).
	// +optional
	Console *ConsoleSpec `json:"console,omitempty"`
}

// ConsoleSpec configures the dbserver's web console.
type ConsoleSpec struct {
	// Enabled serves the console at /console/. It signs in with the full-access key and
	// uses only the public API.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Roles are the roles whose external users may also sign in to the console, through the
	// same Auth0/OIDC login as apps (spec.auth). The console then calls the API with the
	// user's token, so it shows and changes only what the user's roles allow. Empty: only the
	// full-access key signs in.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`\S`
	// +optional
	Roles []string `json:"roles,omitempty"`
}

// DeletionPolicy says what happens to the data volume when its Database is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the PersistentVolumeClaim; a new Database of the same name adopts it.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete lets the PersistentVolumeClaim be garbage-collected with the Database.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// StorageSpec describes the PersistentVolumeClaim <name>-data.
type StorageSpec struct {
	// Size of the volume. It may grow (where the StorageClass allows expansion), never shrink
	// below the size the claim requests (status.storageSize): after a resize the StorageClass
	// refused, setting it back to that size undoes the request.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage.size must be positive"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the claim; empty uses the cluster's default class. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.storageClassName is immutable"
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// DeletionPolicy is Retain (the default: the claim outlives the Database) or Delete.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// AuthSpec configures login for external users.
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || (has(self.auth0) && (has(self.auth0.domain) || has(self.auth0.issuer)) && has(self.auth0.clientID) && has(self.auth0.secretRef))",message="auth.enabled requires auth.auth0 with domain or issuer, clientID and secretRef"
type AuthSpec struct {
	// Enabled turns on /auth/* and Bearer tokens.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// TokenTTL is the lifetime of the tokens the dbserver issues ("1h", "30m").
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('720h')",message="auth.tokenTTL must be between 1m and 720h"
	// +optional
	TokenTTL *metav1.Duration `json:"tokenTTL,omitempty"`

	// DefaultRoles are given to a user on first login (the dbserver's default is "external").
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`\S`
	// +optional
	DefaultRoles []string `json:"defaultRoles,omitempty"`

	// Auth0 names the Auth0 tenant (or another OIDC issuer) and this database's client there.
	// +optional
	Auth0 *Auth0Spec `json:"auth0,omitempty"`
}

// Auth0Spec names an Auth0 tenant, or any OIDC issuer, and the client registered there.
// +kubebuilder:validation:XValidation:rule="has(self.domain) || has(self.issuer)",message="auth.auth0 needs domain or issuer"
type Auth0Spec struct {
	// Domain is the tenant's domain; the issuer is then https://<domain>/.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]+)?$`
	// +optional
	Domain string `json:"domain,omitempty"`

	// Issuer overrides the issuer derived from Domain (a full http or https URL); it serves other
	// OIDC providers and local tests.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="auth.auth0.issuer must be an http(s) URL"
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// ClientID is the audience that ID tokens must carry.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	ClientID string `json:"clientID"`

	// SecretRef names the Secret key holding the client secret.
	// +required
	SecretRef SecretKeyRef `json:"secretRef"`
}

// SecretKeyRef names one key of a Secret in the Database's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`

	// Key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +required
	Key string `json:"key"`
}

// APIKeysSpec names the full-access key and the restricted keys for web pages.
type APIKeysSpec struct {
	// SecretRef names the full-access key; when unset, one is generated into <name>-credentials.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`

	// Web lists restricted keys for web pages (restdb.io's "CORS keys"). Their values are read
	// from the Secrets named here and written into the settings.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Web []WebKeySpec `json:"web,omitempty"`
}

// HTTPMethod is a method a web key may use.
// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
type HTTPMethod string

// WebKeySpec is a restricted key for web pages.
type WebKeySpec struct {
	// Name identifies the key in logs and settings.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$`
	// +required
	Name string `json:"name"`

	// SecretRef names the Secret key holding the key's value.
	// +required
	SecretRef SecretKeyRef `json:"secretRef"`

	// Paths are globs under /rest, starting with "/" ("*" one segment, "**" any number,
	// including none): "/tasks/**".
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^/`
	// +optional
	Paths []string `json:"paths,omitempty"`

	// Methods the key may use; empty means GET only.
	// +listType=set
	// +optional
	Methods []HTTPMethod `json:"methods,omitempty"`

	// Origins the key may be used from, such as "https://todo.example.com" (scheme, host and
	// port; no path); empty means anywhere, and so does "*".
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^(\*|[hH][tT][tT][pP][sS]?://[^/?#\s]+/?)$`
	// +optional
	Origins []string `json:"origins,omitempty"`

	// Channels are the realtime events the key may hear at /realtime, as restdb.io writes them:
	// <METHOD>:<COLLECTION> (POST:company; METHOD POST, PUT, PATCH, DELETE, PUBLISH or *,
	// COLLECTION a name or *). PUBLISH:<event> also lets the key send that event. Empty: none.
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^(\*|POST|PUT|PATCH|DELETE|PUBLISH):(\*|[A-Za-z][A-Za-z0-9_-]{0,63})$`
	// +optional
	Channels []string `json:"channels,omitempty"`
}

// CORSSpec lists the origins allowed to call the API from a browser.
type CORSSpec struct {
	// AllowedOrigins such as "https://todo.example.com" (scheme, host and port; no path), or "*".
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^(\*|[hH][tT][tT][pP][sS]?://[^/?#\s]+/?)$`
	// +optional
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
}

// CollectionSpec declares a collection's indexes and who may access it.
type CollectionSpec struct {
	// Name of the collection: a letter, then letters, digits, "_" or "-" (the dbserver's
	// settings.CollectionName).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][-_A-Za-z0-9]*$`
	// +required
	Name string `json:"name"`

	// Indexes are the fields indexed for fast queries: dotted field paths ("due",
	// "owner.name"), not starting with "$", without empty segments.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[^$.][^.]*(\.[^.]+)*$`
	// +optional
	Indexes []string `json:"indexes,omitempty"`

	// Private limits external users to the documents they created.
	// +optional
	Private bool `json:"private,omitempty"`

	// Access maps a role name to its rights on this collection.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(role, role.matches('\\\\S'))",message="collections[].access: a role name must not be blank"
	// +optional
	Access map[string]RightsSpec `json:"access,omitempty"`
}

// RightsSpec are what a role may do on a collection.
type RightsSpec struct {
	// Read allows listing and fetching documents.
	// +optional
	Read bool `json:"read,omitempty"`
	// Write allows creating, changing and deleting documents.
	// +optional
	Write bool `json:"write,omitempty"`
}

// LimitsSpec bounds what one request may ask of the server.
type LimitsSpec struct {
	// MaxBodyBytes is the largest request body accepted (the dbserver's default is 1 MiB).
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=1073741824
	// +optional
	MaxBodyBytes *int64 `json:"maxBodyBytes,omitempty"`

	// MaxPageSize is the largest max a query may ask for (the dbserver's default is 10000).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxPageSize *int32 `json:"maxPageSize,omitempty"`

	// MaxMediaBytes is the largest media upload accepted, per file and per request (the
	// dbserver's default is 64 MiB; 0 means that default).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1099511627776
	// +optional
	MaxMediaBytes *int64 `json:"maxMediaBytes,omitempty"`

	// MaxDocumentBytes is the largest stored document, after any update (the dbserver's
	// default is 4 MiB). A write that would pass it is refused with 400.
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=67108864
	// +optional
	MaxDocumentBytes *int32 `json:"maxDocumentBytes,omitempty"`
}

// RealtimeSpec configures the Server-Sent Events stream at /realtime.
type RealtimeSpec struct {
	// Enabled serves /realtime; off, the path answers 404 (restdb.io's global switch).
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// MaxSubscribers caps the streams open at once; one more is answered 503 (the dbserver's
	// default is 1000).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxSubscribers *int32 `json:"maxSubscribers,omitempty"`

	// UserChannels are the channels every external user may hear (and publish on), in the web
	// keys' form; collection events also need the user's read rights. Empty: POST:*, PUT:*,
	// DELETE:* (every collection the user may read, no published messages).
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^(\*|POST|PUT|PATCH|DELETE|PUBLISH):(\*|[A-Za-z][A-Za-z0-9_-]{0,63})$`
	// +optional
	UserChannels []string `json:"userChannels,omitempty"`
}

// DatabaseStatus is what the operator last saw and did.
type DatabaseStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready, Reconciling and Stalled (kstatus-compatible).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Endpoint is the in-cluster URL of the database's API.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// CredentialsSecret names the Secret holding the generated keys.
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`

	// StorageSize is the size the data claim requests. spec.storage.size may be set back to it
	// after a resize the StorageClass refused.
	// +optional
	StorageSize *resource.Quantity `json:"storageSize,omitempty"`
}

// Database is a RestKube database: a dbserver with its data volume, keys and settings.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec) || !has(oldSelf.spec.storage) || !has(oldSelf.spec.storage.size) || !has(self.spec) || !has(self.spec.storage) || !has(self.spec.storage.size) || quantity(string(self.spec.storage.size)).compareTo(quantity(string(oldSelf.spec.storage.size))) >= 0 || (has(self.status) && has(self.status.storageSize) && quantity(string(self.spec.storage.size)).compareTo(quantity(string(self.status.storageSize))) == 0)",message="storage.size cannot shrink, except back to the size the claim requests (status.storageSize)"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rdb,categories=restkube
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Auth",type=boolean,JSONPath=`.spec.auth.enabled`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Database struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec DatabaseSpec `json:"spec,omitempty"`
	// +optional
	Status DatabaseStatus `json:"status,omitempty"`
}

// DatabaseList is a list of Databases.
// +kubebuilder:object:root=true
type DatabaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Database `json:"items"`
}
