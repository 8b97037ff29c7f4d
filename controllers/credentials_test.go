package controllers

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
)

func TestCredentialsSecretFor(t *testing.T) {
	withOwnAPIKey := func(db *dbv1.Database) {
		db.Spec.APIKeys = &dbv1.APIKeysSpec{SecretRef: &dbv1.SecretKeyRef{Name: "mine", Key: "k"}}
	}
	existing := func(data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	cases := map[string]struct {
		mutate        func(*dbv1.Database)
		existing      *corev1.Secret
		wantKept      map[string]string // keys whose value must be exactly this
		wantGenerated []string          // keys that must hold a fresh 64-hex-char value
		wantAbsent    []string
		wantRV        string
	}{
		"a new Database gets a generated api-key and signing-key": {
			wantGenerated: []string{keyAPIKey, keySigningKey},
		},
		"a Database naming its own API key gets only a signing-key": {
			mutate:        withOwnAPIKey,
			wantGenerated: []string{keySigningKey},
			wantAbsent:    []string{keyAPIKey},
		},
		"existing keys are kept byte for byte": {
			existing: existing(map[string]string{keyAPIKey: "rotated-by-user", keySigningKey: "old-signing"}),
			wantKept: map[string]string{keyAPIKey: "rotated-by-user", keySigningKey: "old-signing"},
			wantRV:   "42",
		},
		"a key deleted by hand is generated again, the other kept": {
			existing:      existing(map[string]string{keyAPIKey: "keep-me"}),
			wantKept:      map[string]string{keyAPIKey: "keep-me"},
			wantGenerated: []string{keySigningKey},
			wantRV:        "42",
		},
		"an api-key no longer needed is kept, not dropped": {
			mutate:   withOwnAPIKey,
			existing: existing(map[string]string{keyAPIKey: "handed-out", keySigningKey: "s"}),
			wantKept: map[string]string{keyAPIKey: "handed-out", keySigningKey: "s"},
			wantRV:   "42",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := newTestDatabase()
			db.Spec.APIKeys = nil
			if tc.mutate != nil {
				tc.mutate(db)
			}
			// A counting reader makes every generated key distinct and recognisable.
			random := &countingReader{}
			s, err := credentialsSecretFor(db, tc.existing, random)
			if err != nil {
				t.Fatalf("credentialsSecretFor: %v", err)
			}
			if s.Name != "todo-credentials" || s.Namespace != "apps" {
				t.Errorf("name = %s/%s, want apps/todo-credentials", s.Namespace, s.Name)
			}
			if !hasControllerRef(s.OwnerReferences, db) {
				t.Errorf("owner references %+v do not name the Database as controller", s.OwnerReferences)
			}
			if s.Labels[labelManagedBy] != managedBy || s.Labels[labelInstance] != "todo" {
				t.Errorf("labels = %v, want the standard labels (the owned-Secret cache selects by them)", s.Labels)
			}
			if s.ResourceVersion != tc.wantRV {
				t.Errorf("resourceVersion = %q, want %q", s.ResourceVersion, tc.wantRV)
			}
			for k, v := range tc.wantKept {
				if got := string(s.Data[k]); got != v {
					t.Errorf("%s = %q, want it kept as %q", k, got, v)
				}
			}
			seen := map[string]bool{}
			for _, k := range tc.wantGenerated {
				v := string(s.Data[k])
				if b, err := hex.DecodeString(v); err != nil || len(b) < 32 {
					t.Errorf("%s = %q, want at least 32 random bytes as hex", k, v)
				}
				if seen[v] {
					t.Errorf("%s repeats another generated key", k)
				}
				seen[v] = true
			}
			for _, k := range tc.wantAbsent {
				if _, ok := s.Data[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
			if n := len(tc.wantKept) + len(tc.wantGenerated); len(s.Data) != n {
				t.Errorf("data has %d keys, want %d", len(s.Data), n)
			}
		})
	}
}

func TestCredentialsSecretForFailsWithoutRandomness(t *testing.T) {
	boom := errors.New("entropy pool empty")
	_, err := credentialsSecretFor(newTestDatabase(), nil, iotest.ErrReader(boom))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "todo-credentials") {
		t.Fatalf("err = %v, want it to wrap %v and name the Secret", err, boom)
	}
}

func TestCredentialsComplete(t *testing.T) {
	db := newTestDatabase()
	db.Spec.APIKeys = nil
	complete, err := credentialsSecretFor(db, nil, &countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		mutate func(*corev1.Secret)
		want   bool
	}{
		"a Secret as built is complete":            {mutate: func(*corev1.Secret) {}, want: true},
		"a missing key needs a write":              {mutate: func(s *corev1.Secret) { delete(s.Data, keySigningKey) }, want: false},
		"an empty key needs a write":               {mutate: func(s *corev1.Secret) { s.Data[keyAPIKey] = nil }, want: false},
		"a removed managed-by label needs a write": {mutate: func(s *corev1.Secret) { delete(s.Labels, labelManagedBy) }, want: false},
		"a lost owner reference needs a write": {
			mutate: func(s *corev1.Secret) { s.OwnerReferences = nil }, want: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := complete.DeepCopy()
			tc.mutate(s)
			if got := credentialsComplete(db, s); got != tc.want {
				t.Fatalf("credentialsComplete = %v, want %v", got, tc.want)
			}
		})
	}
}

// countingReader yields 0, 1, 2, ... so successive reads never repeat.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}
