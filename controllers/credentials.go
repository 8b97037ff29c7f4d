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
	"encoding/hex"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

// generatedKeyBytes is the entropy of every generated key; written as hex it is 64 characters.
const generatedKeyBytes = 32

// credentialsKeys are the keys <name>-credentials must hold for db: the signing key always, and
// the full-access API key unless the spec names its own.
func credentialsKeys(db *dbv1.Database) []string {
	if db.Spec.APIKeys != nil && db.Spec.APIKeys.SecretRef != nil {
		return []string{keySigningKey}
	}
	return []string{keySigningKey, keyAPIKey}
}

// credentialsSecretFor returns the desired <name>-credentials Secret. Values already in existing
// (nil when the Secret does not exist) are kept byte for byte: a generated key is never
// overwritten, and rotating one is editing the Secret. Missing keys are generated from random.
// When existing is given, the result carries its resourceVersion, so applying it fails instead
// of overwriting a rotation made in between.
func credentialsSecretFor(db *dbv1.Database, existing *corev1.Secret, random io.Reader) (*corev1.Secret, error) {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMetaFor(db, db.CredentialsSecretName()),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{},
	}
	if existing != nil {
		s.ResourceVersion = existing.ResourceVersion
		// Keep both keys when present, even one the spec no longer needs: dropping it from an
		// apply would delete it, and a key once handed out is the user's to remove.
		for _, k := range []string{keySigningKey, keyAPIKey} {
			if v, ok := existing.Data[k]; ok {
				s.Data[k] = v
			}
		}
	}
	for _, k := range credentialsKeys(db) {
		if len(s.Data[k]) > 0 {
			continue
		}
		v, err := randomKey(random)
		if err != nil {
			return nil, fmt.Errorf("while generating %s for %s: %w", k, s.Name, err)
		}
		s.Data[k] = v
	}
	return s, nil
}

// credentialsComplete reports whether existing already holds every key db needs, with the
// standard labels and owner reference, so that no write is needed.
func credentialsComplete(db *dbv1.Database, existing *corev1.Secret) bool {
	for _, k := range credentialsKeys(db) {
		if len(existing.Data[k]) == 0 {
			return false
		}
	}
	for k, v := range labelsFor(db) {
		if existing.Labels[k] != v {
			return false
		}
	}
	for _, o := range existing.OwnerReferences {
		if o.UID == db.UID && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// randomKey reads generatedKeyBytes from random and returns them as hex text.
func randomKey(random io.Reader) ([]byte, error) {
	b := make([]byte, generatedKeyBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, fmt.Errorf("while reading randomness: %w", err)
	}
	out := make([]byte, hex.EncodedLen(len(b)))
	hex.Encode(out, b)
	return out, nil
}
