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
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/dbserver/settings"
	"k8s.io/utils/ptr"
)

// secretValues holds the values of the Secret keys a Database references, read by the
// reconciler before any builder runs.
type secretValues map[dbv1.SecretKeyRef][]byte

// settingsFor renders the dbserver's settings.json from the spec. Web keys take their values
// from values; the caller has checked that every one is present.
func settingsFor(db *dbv1.Database, values secretValues) settings.Settings {
	var s settings.Settings
	if a := db.Spec.Auth; a != nil {
		s.Auth.Enabled = a.Enabled
		if a.TokenTTL != nil {
			s.Auth.TokenTTL = a.TokenTTL.Duration.String()
		}
		s.Auth.DefaultRoles = append([]string(nil), a.DefaultRoles...)
		if a.Auth0 != nil {
			s.Auth.Auth0 = &settings.Auth0{
				Domain:   a.Auth0.Domain,
				ClientID: a.Auth0.ClientID,
				Issuer:   a.Auth0.Issuer,
			}
		}
	}
	if k := db.Spec.APIKeys; k != nil {
		for _, w := range k.Web {
			methods := make([]string, 0, len(w.Methods))
			for _, m := range w.Methods {
				methods = append(methods, string(m))
			}
			s.APIKeys.Web = append(s.APIKeys.Web, settings.WebKey{
				Name:    w.Name,
				Key:     string(values[w.SecretRef]),
				Paths:   append([]string(nil), w.Paths...),
				Methods: nilIfEmpty(methods),
				Origins: append([]string(nil), w.Origins...),
				// Channels go through as written: both sides match them with settings.ChannelPattern.
				Channels: append([]string(nil), w.Channels...),
			})
		}
	}
	if c := db.Spec.CORS; c != nil {
		s.CORS.AllowedOrigins = append([]string(nil), c.AllowedOrigins...)
	}
	for _, c := range db.Spec.Collections {
		col := settings.Collection{
			Name:    c.Name,
			Indexes: append([]string(nil), c.Indexes...),
			Private: c.Private,
		}
		if len(c.Access) > 0 {
			col.Access = make(map[string]settings.Rights, len(c.Access))
			for role, r := range c.Access {
				col.Access[role] = settings.Rights{Read: r.Read, Write: r.Write}
			}
		}
		s.Collections = append(s.Collections, col)
	}
	// Written always, so that the dbserver's own default (on, for standalone use) never
	// applies in a cluster: the console is off unless spec.console.enabled.
	s.Console = &settings.Console{Enabled: ptr.To(db.Spec.Console != nil && db.Spec.Console.Enabled)}
	if db.Spec.Console != nil && len(db.Spec.Console.Roles) > 0 {
		s.Console.Roles = append([]string(nil), db.Spec.Console.Roles...)
	}
	if l := db.Spec.Limits; l != nil {
		if l.MaxBodyBytes != nil {
			s.Limits.MaxBodyBytes = *l.MaxBodyBytes
		}
		if l.MaxPageSize != nil {
			s.Limits.MaxPageSize = int(*l.MaxPageSize)
		}
		if l.MaxMediaBytes != nil {
			s.Limits.MaxMediaBytes = *l.MaxMediaBytes
		}
		if l.MaxDocumentBytes != nil {
			s.Limits.MaxDocumentBytes = int(*l.MaxDocumentBytes)
		}
	}
	if r := db.Spec.Realtime; r != nil {
		s.Realtime.Enabled = r.Enabled
		if r.MaxSubscribers != nil {
			s.Realtime.MaxSubscribers = int(*r.MaxSubscribers)
		}
		s.Realtime.UserChannels = append([]string(nil), r.UserChannels...)
	}
	s.Backup = backupSettingsFor(db)
	return s
}

// settingsSecretFor returns the desired <name>-settings Secret holding s as settings.json. It is
// a Secret, not a ConfigMap, because web keys' values are written into it.
func settingsSecretFor(db *dbv1.Database, s settings.Settings) (*corev1.Secret, error) {
	// encoding/json sorts map keys, so the same spec always renders the same bytes and an
	// unchanged Database never rewrites the Secret.
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("while rendering %s for %s: %w", keySettings, db.Name, err)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMetaFor(db, db.SettingsSecretName()),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keySettings: append(raw, '\n')},
	}, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
