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

// Condition types and the reasons the operator sets on them. Ready, Reconciling and Stalled are
// the kstatus conventions, so kubectl wait, Argo CD and Flux understand a Database.
const (
	// ConditionReady is True when the dbserver is available with the current spec.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is still converging.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a human (a missing Secret, a rejected change).
	ConditionStalled = "Stalled"
)

// Names of the objects the operator owns for a Database, all in its namespace.
const (
	credentialsSuffix = "-credentials"
	settingsSuffix    = "-settings"
	dataSuffix        = "-data"
)

// CredentialsSecretName is the Secret holding the generated api-key and signing-key.
func (db *Database) CredentialsSecretName() string { return db.Name + credentialsSuffix }

// SettingsSecretName is the Secret holding the rendered settings.json.
func (db *Database) SettingsSecretName() string { return db.Name + settingsSuffix }

// DataClaimName is the PersistentVolumeClaim holding the database file.
func (db *Database) DataClaimName() string { return db.Name + dataSuffix }

// SecretRefs lists every Secret key the spec names, each with the field that names it, in a
// stable order (the field path makes Stalled messages point at the right line of the spec).
func (db *Database) SecretRefs() []FieldSecretRef {
	var refs []FieldSecretRef
	if k := db.Spec.APIKeys; k != nil {
		if k.SecretRef != nil {
			refs = append(refs, FieldSecretRef{Field: "spec.apiKeys.secretRef", Ref: *k.SecretRef})
		}
		for _, w := range k.Web {
			refs = append(refs, FieldSecretRef{Field: "spec.apiKeys.web[" + w.Name + "].secretRef", Ref: w.SecretRef})
		}
	}
	if a := db.Spec.Auth; a != nil && a.Auth0 != nil {
		refs = append(refs, FieldSecretRef{Field: "spec.auth.auth0.secretRef", Ref: a.Auth0.SecretRef})
	}
	if b := db.Spec.Backup; b != nil {
		refs = append(refs, b.ObjectStore.secretRefs("spec.backup.objectStore")...)
	}
	if b := db.Spec.Bootstrap; b != nil && b.FromBackup != nil && b.FromBackup.ObjectStore != nil {
		refs = append(refs, b.FromBackup.ObjectStore.secretRefs("spec.bootstrap.fromBackup.objectStore")...)
	}
	return refs
}

// FieldSecretRef is a SecretKeyRef together with the spec field it came from.
type FieldSecretRef struct {
	Field string
	Ref   SecretKeyRef
}

// ReferencedSecretNames lists, without duplicates, the Secrets the spec names.
func (db *Database) ReferencedSecretNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range db.SecretRefs() {
		if !seen[r.Ref.Name] {
			seen[r.Ref.Name] = true
			names = append(names, r.Ref.Name)
		}
	}
	return names
}

// secretRefs lists the Secret keys an object store names, under field.
func (o *ObjectStoreSpec) secretRefs(field string) []FieldSecretRef {
	refs := []FieldSecretRef{
		{Field: field + ".credentials.accessKeyID", Ref: o.Credentials.AccessKeyID},
		{Field: field + ".credentials.secretAccessKey", Ref: o.Credentials.SecretAccessKey},
	}
	if o.CA != nil {
		refs = append(refs, FieldSecretRef{Field: field + ".ca", Ref: *o.CA})
	}
	return refs
}

// BackupPrefix is the prefix of a Database's backups in its object store:
// <spec prefix><namespace>/<name>/.
func (db *Database) BackupPrefix() string {
	if db.Spec.Backup == nil {
		return ""
	}
	return db.Spec.Backup.ObjectStore.Prefix + db.Namespace + "/" + db.Name + "/"
}
