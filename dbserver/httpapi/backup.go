package httpapi

import (
	"errors"
	"net/http"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/backup"
	"github.com/restkube/restkube/dbserver/settings"
)

// bindBackup registers the admin endpoints of backups, for the full-access key only:
//
//	POST /admin/backups       start a backup to the configured object store (202, the run)
//	GET  /admin/backups       the last runs, newest first, and whether an object store is configured
//	GET  /admin/backups/{id}  one run
func (s *Server) bindBackup(svc *backup.Service) {
	s.HandleAuthenticated("/admin/backups", func(w http.ResponseWriter, req *http.Request, p *auth.Principal) error {
		if err := fullAccessOnly(p); err != nil {
			return err
		}
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			WriteJSON(w, http.StatusOK, backupList(svc.ObjectStore(), svc.Runs()))
			return nil
		case http.MethodPost:
			run, err := svc.Start()
			switch {
			case errors.Is(err, backup.ErrNotConfigured):
				return NewError(http.StatusConflict, "%s", err.Error())
			case errors.Is(err, backup.ErrBusy):
				return NewError(http.StatusConflict, "%s", err.Error())
			case err != nil:
				return NewError(http.StatusServiceUnavailable, "%s", err.Error())
			}
			w.Header().Set("Location", "/admin/backups/"+run.ID)
			WriteJSON(w, http.StatusAccepted, run)
			return nil
		}
		return MethodNotAllowed(req.Method, http.MethodGet, http.MethodPost)
	})
	s.HandleAuthenticated("/admin/backups/{id}", func(w http.ResponseWriter, req *http.Request, p *auth.Principal) error {
		if err := fullAccessOnly(p); err != nil {
			return err
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return MethodNotAllowed(req.Method, http.MethodGet)
		}
		run, ok := svc.Get(req.PathValue("id"))
		if !ok {
			return NewError(http.StatusNotFound, "no backup %q among the last ones", req.PathValue("id"))
		}
		WriteJSON(w, http.StatusOK, run)
		return nil
	})
}

// backupListing is the answer of GET /admin/backups: the last runs, and whether (and where)
// a backup can be started, so that a client can say so before it tries.
type backupListing struct {
	// Configured is true when settings name an object store (POST can start a backup).
	Configured bool `json:"configured"`
	// Bucket and Prefix say where backups go (never the credentials or the endpoint's secrets).
	Bucket string       `json:"bucket,omitempty"`
	Prefix string       `json:"prefix,omitempty"`
	Runs   []backup.Run `json:"runs"`
}

func backupList(store *settings.ObjectStore, runs []backup.Run) backupListing {
	out := backupListing{Runs: runs}
	if store != nil {
		out.Configured = true
		out.Bucket = store.Bucket
		out.Prefix = store.Prefix
	}
	return out
}

// fullAccessOnly refuses every caller but the full-access API key.
func fullAccessOnly(p *auth.Principal) error {
	if p.Kind != auth.FullKey {
		return NewError(http.StatusForbidden, "only the full-access API key may use the admin endpoints")
	}
	return nil
}
