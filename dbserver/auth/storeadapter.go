package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/store"
)

// RevocationsBucket is the store's meta bucket of revoked token IDs (value: expiry, Unix seconds).
const RevocationsBucket = "auth-revocations"

// StoreUsers is the UserStore over the users collection of a store.Store.
type StoreUsers struct {
	st *store.Store

	// bySub remembers which document holds which sub, so that a provider ID token used as a
	// Bearer does not scan the users collection on every request. It is only a hint: the
	// document is read and its user_id checked on every use.
	mu    sync.Mutex
	bySub map[string]string
}

// NewStoreUsers returns the UserStore of st's users collection.
func NewStoreUsers(st *store.Store) *StoreUsers {
	return &StoreUsers{st: st, bySub: map[string]string{}}
}

// ByID returns the user whose _id is id, or nil.
func (s *StoreUsers) ByID(_ context.Context, id string) (*UserDoc, error) {
	if !store.ValidID(id) {
		return nil, nil
	}
	d, err := s.st.Get(UsersCollection, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading user %s: %w", id, err)
	}
	return userFromDoc(d), nil
}

// Find returns the user whose user_id is sub, else one whose email is email, else nil.
func (s *StoreUsers) Find(ctx context.Context, sub, email string) (*UserDoc, error) {
	s.mu.Lock()
	hint, ok := s.bySub[sub]
	s.mu.Unlock()
	if ok {
		u, err := s.ByID(ctx, hint)
		if err != nil {
			return nil, err
		}
		if u != nil && u.UserID == sub {
			return u, nil
		}
	}
	var bySub, byEmail *UserDoc
	err := s.st.Scan(UsersCollection, func(d store.Doc) bool {
		u := userFromDoc(d)
		if sub != "" && u.UserID == sub {
			bySub = u
			return false
		}
		if byEmail == nil && email != "" && strings.EqualFold(u.Email, email) {
			byEmail = u
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("scanning users: %w", err)
	}
	if bySub != nil {
		s.remember(sub, bySub.ID)
		return bySub, nil
	}
	return byEmail, nil
}

// Create stores a new user document, recorded as created by the API.
func (s *StoreUsers) Create(_ context.Context, u UserDoc) (*UserDoc, error) {
	doc := store.Doc{
		"email":       u.Email,
		"displayname": u.DisplayName,
		"image":       u.Image,
		"user_id":     u.UserID,
		"roles":       stringsToAny(u.Roles),
		"active":      u.Active,
	}
	out, err := s.st.Insert(UsersCollection, []store.Doc{doc}, APIUser)
	if err != nil {
		return nil, fmt.Errorf("inserting user: %w", err)
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("inserting user: store returned %d documents", len(out))
	}
	created := userFromDoc(out[0])
	s.remember(created.UserID, created.ID)
	return created, nil
}

// UpdateProfile sets user_id and the non-empty displayname and image of user id.
func (s *StoreUsers) UpdateProfile(_ context.Context, id string, p Profile) (*UserDoc, error) {
	d, err := s.st.Update(UsersCollection, id, store.AnyVersion, APIUser, func(d store.Doc) error {
		if p.UserID != "" {
			d["user_id"] = p.UserID
		}
		if p.DisplayName != "" {
			d["displayname"] = p.DisplayName
		}
		if p.Image != "" {
			d["image"] = p.Image
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("updating user %s: %w", id, err)
	}
	u := userFromDoc(d)
	s.remember(u.UserID, u.ID)
	return u, nil
}

func (s *StoreUsers) remember(sub, id string) {
	if sub == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySub[sub] = id
}

// userFromDoc reads a users document written by us or by a client with the full-access key,
// so every field may be missing or of another type. Only active: true or no active field
// counts as active: anything else fails closed.
func userFromDoc(d store.Doc) *UserDoc {
	u := &UserDoc{
		ID:          str(d[jsondoc.FieldID]),
		UserID:      str(d["user_id"]),
		Email:       str(d["email"]),
		DisplayName: str(d["displayname"]),
		Image:       str(d["image"]),
		Active:      true,
	}
	if a, ok := d["active"]; ok {
		b, isBool := a.(bool)
		u.Active = isBool && b
	}
	switch r := d["roles"].(type) {
	case []any:
		for _, v := range r {
			if s, ok := v.(string); ok && s != "" {
				u.Roles = append(u.Roles, s)
			}
		}
	case []string:
		u.Roles = append(u.Roles, r...)
	case string:
		if r != "" {
			u.Roles = []string{r}
		}
	}
	return u
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func stringsToAny(ss []string) []any {
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// StoreRevocations is the RevocationStore in a meta bucket of a store.Store, so revocations
// survive a restart.
type StoreRevocations struct {
	st *store.Store
}

// NewStoreRevocations returns the RevocationStore kept in st.
func NewStoreRevocations(st *store.Store) *StoreRevocations {
	return &StoreRevocations{st: st}
}

// Revoke records id as revoked until until.
func (r *StoreRevocations) Revoke(id string, until time.Time) error {
	if err := r.st.PutMeta(RevocationsBucket, id, []byte(strconv.FormatInt(until.Unix(), 10))); err != nil {
		return fmt.Errorf("storing revocation: %w", err)
	}
	return nil
}

// IsRevoked tells whether id is recorded as revoked.
func (r *StoreRevocations) IsRevoked(id string) (bool, error) {
	v, err := r.st.GetMeta(RevocationsBucket, id)
	if err != nil {
		return false, fmt.Errorf("reading revocation: %w", err)
	}
	return v != nil, nil
}

// Prune deletes the revocations whose time has passed; unreadable entries go too.
func (r *StoreRevocations) Prune(now time.Time) error {
	var expired []string
	err := r.st.ScanMeta(RevocationsBucket, func(key string, value []byte) bool {
		until, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || until < now.Unix() {
			expired = append(expired, key)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("scanning revocations: %w", err)
	}
	if err := r.st.DeleteMeta(RevocationsBucket, expired...); err != nil {
		return fmt.Errorf("deleting expired revocations: %w", err)
	}
	return nil
}
