package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/restkube/restkube/dbserver/settings"
)

// UsersCollection is the predefined collection of external users.
const UsersCollection = "users"

// UserDoc is a document of the users collection, as auth reads it.
type UserDoc struct {
	// ID is the document's _id.
	ID string
	// UserID is the identity provider's sub (user_id in the document).
	UserID      string
	Email       string
	DisplayName string
	Image       string
	Roles       []string
	// Active is false only when the document says active: false (or anything but true).
	Active bool
}

// Profile is what a login writes into an existing user's document.
type Profile struct {
	UserID      string
	DisplayName string
	Image       string
}

// UserStore finds and provisions users. Implementations read the store on every call: roles
// and active must apply at once.
type UserStore interface {
	// ByID returns the user whose _id is id, or nil if there is none.
	ByID(ctx context.Context, id string) (*UserDoc, error)
	// Find returns the user whose user_id is sub, else (when email is not empty) one whose
	// email equals email case-insensitively, else nil.
	Find(ctx context.Context, sub, email string) (*UserDoc, error)
	// Create stores a new user document with the fields of u and returns it with its _id.
	Create(ctx context.Context, u UserDoc) (*UserDoc, error)
	// UpdateProfile sets user_id, and displayname and image where not empty, of user id.
	UpdateProfile(ctx context.Context, id string, p Profile) (*UserDoc, error)
}

// RevocationStore remembers revoked tokens by ID until they expire; it must survive a restart.
type RevocationStore interface {
	// Revoke refuses the token id until the time until.
	Revoke(id string, until time.Time) error
	// IsRevoked tells whether id was revoked.
	IsRevoked(id string) (bool, error)
	// Prune forgets revocations whose time has passed.
	Prune(now time.Time) error
}

// provision finds the user of a verified ID token, creating it on first sight and refreshing
// its displayname and image on later logins. A user created earlier with POST /rest/users is
// linked by email, keeping its roles; an email already linked to another identity is refused,
// so that a second account at the provider cannot take over the first one's data.
func (s *Service) provision(ctx context.Context, cfg *settings.Config, c *idClaims) (*UserDoc, error) {
	email := c.verifiedEmail()
	s.userMu.Lock()
	defer s.userMu.Unlock()
	u, err := s.opts.Users.Find(ctx, c.Subject, email)
	if err != nil {
		return nil, fmt.Errorf("finding the user: %w", err)
	}
	if u == nil {
		roles := append([]string(nil), cfg.Settings.Auth.DefaultRoles...)
		if len(roles) == 0 {
			roles = []string{settings.DefaultRole}
		}
		u, err = s.opts.Users.Create(ctx, UserDoc{
			UserID: c.Subject, Email: email, DisplayName: c.Name, Image: c.Picture, Roles: roles, Active: true,
		})
		if err != nil {
			return nil, fmt.Errorf("creating the user: %w", err)
		}
		s.logger.Info("external user created", "user", u.ID)
		return u, nil
	}
	if u.UserID != "" && u.UserID != c.Subject {
		return nil, fmt.Errorf("%w: this email belongs to another identity", ErrForbidden)
	}
	if !u.Active {
		return nil, fmt.Errorf("%w: this user is deactivated", ErrForbidden)
	}
	if u.UserID == "" || (c.Name != "" && c.Name != u.DisplayName) || (c.Picture != "" && c.Picture != u.Image) {
		u, err = s.opts.Users.UpdateProfile(ctx, u.ID, Profile{UserID: c.Subject, DisplayName: c.Name, Image: c.Picture})
		if err != nil {
			return nil, fmt.Errorf("updating the user: %w", err)
		}
	}
	return u, nil
}

// userPrincipal is the Principal of user u holding the token tokenID.
func userPrincipal(u *UserDoc, tokenID string, exp time.Time, issued bool) *Principal {
	name := u.Email
	if name == "" {
		name = u.UserID
	}
	if name == "" {
		name = u.ID
	}
	return &Principal{
		Kind:      User,
		Name:      name,
		UserID:    u.ID,
		Subject:   u.UserID,
		Email:     u.Email,
		Roles:     append([]string(nil), u.Roles...),
		TokenID:   tokenID,
		ExpiresAt: exp,
		Issued:    issued,
	}
}
