package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/settings"
)

// authenticate finds the caller of r: an API key (x-apikey header, else ?apikey=) or a Bearer
// token. Missing or wrong credentials wrap auth.ErrUnauthorized (401); a web key used from an
// origin it does not list wraps auth.ErrForbidden (403).
func (s *Server) authenticate(r *http.Request, cfg *settings.Config) (*auth.Principal, error) {
	key := r.Header.Get("X-Apikey")
	if key == "" {
		key = r.URL.Query().Get("apikey")
	}
	if key != "" {
		p := auth.Keys{Full: cfg.APIKey, Web: cfg.Settings.APIKeys.Web}.Match(strings.TrimSpace(key))
		if p == nil {
			return nil, fmt.Errorf("%w: invalid API key", auth.ErrUnauthorized)
		}
		if p.Kind == auth.WebKey && len(p.WebKey.Origins) > 0 && !auth.OriginAllowed(p.WebKey.Origins, r.Header.Get("Origin")) {
			return nil, fmt.Errorf("%w: this key may not be used from this origin", auth.ErrForbidden)
		}
		return p, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		const bearer = "bearer "
		if !hasPrefixFold(h, bearer) || strings.TrimSpace(h[len(bearer):]) == "" {
			return nil, fmt.Errorf("%w: Authorization must be Bearer <token>", auth.ErrUnauthorized)
		}
		if s.auth == nil {
			return nil, fmt.Errorf("%w: bearer tokens are not accepted (auth is not enabled)", auth.ErrUnauthorized)
		}
		p, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(h[len(bearer):]))
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("%w: invalid token", auth.ErrUnauthorized)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: missing credentials: send x-apikey or Authorization: Bearer", auth.ErrUnauthorized)
}

// hasPrefixFold reports whether s starts with prefix, ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
