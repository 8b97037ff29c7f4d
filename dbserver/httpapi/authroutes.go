package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/restkube/restkube/dbserver/auth"
)

// maxAuthBody bounds the body of POST /auth/token: a code or a token, a few KiB at most.
const maxAuthBody = 64 << 10

// AuthService is the auth API of external users: it verifies Bearer tokens (on every route
// group) and serves the /auth group; *auth.Service implements it.
type AuthService interface {
	Authenticator
	Enabled() bool
	Token(ctx context.Context, req auth.TokenRequest) (*auth.TokenResponse, error)
	UserInfo(ctx context.Context, p *auth.Principal) (map[string]any, error)
	Logout(ctx context.Context, p *auth.Principal) error
}

// bindAuth registers the /auth group: POST /auth/token, GET /auth/userinfo and POST
// /auth/logout, served by svc. Other methods are 405; while auth is disabled in the settings,
// all three are 404 as if they did not exist.
func (s *Server) bindAuth(svc AuthService) {
	s.Handle("POST /auth/token", func(w http.ResponseWriter, r *http.Request) error {
		if !svc.Enabled() {
			return authDisabled()
		}
		req, err := readTokenRequest(w, r)
		if err != nil {
			return err
		}
		resp, err := svc.Token(r.Context(), req)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, resp)
		return nil
	})
	s.HandleAuthenticated("GET /auth/userinfo", func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if !svc.Enabled() {
			return authDisabled()
		}
		info, err := svc.UserInfo(r.Context(), p)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, info)
		return nil
	})
	s.HandleAuthenticated("POST /auth/logout", func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if !svc.Enabled() {
			return authDisabled()
		}
		if err := svc.Logout(r.Context(), p); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "ok"})
		return nil
	})
	s.Handle("/auth/", notFound)
	// The method-less patterns catch every other method: the mux prefers the patterns above.
	for path, allow := range map[string]string{
		"/auth/token":    http.MethodPost,
		"/auth/userinfo": http.MethodGet,
		"/auth/logout":   http.MethodPost,
	} {
		s.Handle(path, func(w http.ResponseWriter, r *http.Request) error {
			if !svc.Enabled() {
				return authDisabled()
			}
			return MethodNotAllowed(r.Method, allow)
		})
	}
}

func authDisabled() error {
	return NewError(http.StatusNotFound, "external users are not enabled on this database")
}

// readTokenRequest reads the JSON body of POST /auth/token, whatever its content type.
func readTokenRequest(w http.ResponseWriter, r *http.Request) (auth.TokenRequest, error) {
	var req auth.TokenRequest
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAuthBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, err
		}
		return req, NewError(http.StatusBadRequest, "reading the body failed")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return req, NewError(http.StatusBadRequest, `send a JSON object: {"code": "…"} or {"refresh": "…"}`)
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return req, NewError(http.StatusBadRequest, "invalid JSON: code, redirect_uri, code_verifier and refresh must be strings")
	}
	return req, nil
}
