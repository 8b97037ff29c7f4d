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

// Package controllers keeps, for each Database, the objects that run it: the credentials and
// settings Secrets, the data PersistentVolumeClaim, the dbserver Deployment and its Service.
//
// Each owned object has a pure builder in its own file (credentials.go, settings.go, pvc.go,
// deployment.go, service.go) that computes the desired object from the Database and a snapshot
// of what exists. The reconciler is split by concern: database_controller.go holds the flow
// (Reconcile reads as a list of reconcileX steps) and the watches; database_create.go keeps each
// owned object; database_secretrefs.go reads the user Secrets a Database references;
// database_status.go writes the status that status.go decides; database_predicates.go says which
// events bring a Database back; apply.go is the server-side apply plumbing, which sends nothing
// when the cached object already carries the desired one; create.go creates an object the cache
// does not hold with POST (cheaper for the API server than an apply) and, before the first apply
// that changes it, turns the create's managedFields entry into an apply's.
//
// Secrets and memory: the manager watches every Secret of the cluster by metadata only
// (PartialObjectMetadata, trimmed to namespace and name), and a field index maps a Secret's name to
// the Databases that reference it, so a referenced Secret's creation, change or deletion brings
// those Databases back at once, whatever its labels. The operator never labels or otherwise touches
// a Secret it does not own. Their data is read by name when a reconcile needs it, and kept only
// while the metadata cache shows the same resourceVersion (so a Secret shared by many Databases is
// read once per change); the data of the Secrets the operator owns (labelled managed-by) lives in a
// cache of their own (cache.go). Unrelated Secrets — Helm releases, TLS certificates, tokens — cost
// the manager a name each, not their data.
//
// Settings: before writing <name>-settings the reconciler runs the dbserver's own
// settings.Validate on what it rendered. The CRD refuses what it can (patterns, enums, CEL);
// what it cannot see (a web key's value from a Secret) makes the Database Stalled with reason
// InvalidSettings, and the running dbserver keeps its last good settings.
//
// The PersistentVolumeClaim carries an owner reference only under deletionPolicy Delete, so
// under Retain it outlives its Database and is adopted by the next Database of the same name.
package controllers
