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
// of what exists; the reconciler (database_controller.go) gathers that snapshot, calls the
// builders, applies their output with server-side apply under one field owner, and writes the
// status (status.go).
//
// Secrets and memory: the manager's cache holds only Secrets labelled
// db.restkube.dev/watch=true (see CacheOptions in cache.go). The operator puts that label on the
// Secrets it owns and adds it to each user Secret a Database references, the first time it reads
// one (uncached, by name); from then on changes to that Secret arrive through the watch, and a
// field index maps the Secret back to the Databases that name it. Unrelated Secrets — Helm
// releases, TLS certificates, tokens — never enter the cache, so the operator's memory does not
// grow with them. A referenced Secret that does not exist yet cannot carry the label: the
// Database is Stalled and retried on a slow timer, and a Secret created with the label is seen at
// once.
//
// The PersistentVolumeClaim carries an owner reference only under deletionPolicy Delete, so
// under Retain it outlives its Database and is adopted by the next Database of the same name.
package controllers
