package httpapi

import (
	"fmt"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// grant is what a caller may do on one collection for one request.
type grant struct {
	// private, with owner, limits the caller to documents whose _createdby is owner (private
	// collections for external users): any other document is treated as missing.
	private bool
	owner   string
}

// sees reports whether the grant lets the caller see d at all.
func (g grant) sees(d store.Doc) bool {
	if !g.private {
		return true
	}
	by, _ := d[store.FieldCreatedBy].(string)
	return g.owner != "" && by == g.owner
}

// authorize decides whether p may use method on collection coll at path (relative to /rest,
// e.g. "/tasks/ID"). Reads are GET; every other method is a write. Lacking rights wrap
// auth.ErrForbidden.
func authorize(cfg *settings.Config, p *auth.Principal, method, coll, path string) (grant, error) {
	switch p.Kind {
	case auth.FullKey:
		return grant{}, nil
	case auth.WebKey:
		if !auth.WebKeyAllows(p.WebKey, method, path) {
			return grant{}, fmt.Errorf("%w: this key may not %s %s", auth.ErrForbidden, method, path)
		}
		return grant{}, nil
	case auth.User:
		c := cfg.Settings.Collection(coll)
		var rights settings.Rights
		ruled := false
		if c != nil {
			for _, role := range p.Roles {
				if r, ok := c.Access[role]; ok {
					ruled = true
					rights.Read = rights.Read || r.Read
					rights.Write = rights.Write || r.Write
				}
			}
		}
		if !ruled {
			return grant{}, fmt.Errorf("%w: no access to collection %s", auth.ErrForbidden, coll)
		}
		if method == "GET" && !rights.Read {
			return grant{}, fmt.Errorf("%w: no read access to collection %s", auth.ErrForbidden, coll)
		}
		if method != "GET" && !rights.Write {
			return grant{}, fmt.Errorf("%w: no write access to collection %s", auth.ErrForbidden, coll)
		}
		return grant{private: c.Private, owner: p.Name}, nil
	}
	return grant{}, fmt.Errorf("%w: unknown credentials", auth.ErrUnauthorized)
}
