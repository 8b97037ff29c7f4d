package auth

import (
	"time"

	"github.com/restkube/restkube/dbserver/settings"
)

// Kind tells how a caller proved who it is.
type Kind int

const (
	// FullKey is the full-access API key: everything, as the user "api".
	FullKey Kind = iota + 1
	// WebKey is a restricted key from settings apiKeys.web.
	WebKey
	// User is an external user holding a Bearer token (ours or the identity provider's).
	User
)

// Principal is the authenticated caller of one request.
type Principal struct {
	Kind Kind
	// Name is what _createdby/_changedby record: "api" for keys, the email (or sub) for users.
	Name string
	// WebKey is the matched key when Kind is WebKey.
	WebKey *settings.WebKey

	// The fields below are set for Kind User.

	// UserID is the _id of the user's document in the users collection.
	UserID string
	// Subject is the identity provider's sub.
	Subject string
	Email   string
	Roles   []string
	// TokenID is the jti of a RestKube token, or a digest of a provider's ID token, used to revoke it.
	TokenID string
	// ExpiresAt is when the presented token expires (revocations are kept until then).
	ExpiresAt time.Time
	// Issued tells whether the token is one RestKube issued (as opposed to the provider's ID token).
	Issued bool
}
