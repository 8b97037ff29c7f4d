package auth

import (
	"fmt"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/settings"
)

// Grant is what a caller may do on one collection for one request.
type Grant struct {
	// Private, with Owner, limits the caller to documents whose _createdby is owner (private
	// collections for external users): any other document is treated as missing.
	Private bool
	Owner   string
}

// Sees reports whether the grant lets the caller see d at all.
func (g Grant) Sees(d jsondoc.Doc) bool {
	if !g.Private {
		return true
	}
	by, _ := d[jsondoc.FieldCreatedBy].(string)
	return g.Owner != "" && by == g.Owner
}

// Authorize decides whether p may use method on collection coll at path (relative to /rest,
// e.g. "/tasks/ID"). Reads are GET; every other method is a write. Lacking rights wrap
// ErrForbidden.
func Authorize(cfg *settings.Config, p *Principal, method, coll, path string) (Grant, error) {
	switch p.Kind {
	case FullKey:
		return Grant{}, nil
	case WebKey:
		if !WebKeyAllows(p.WebKey, method, path) {
			return Grant{}, fmt.Errorf("%w: this key may not %s %s", ErrForbidden, method, path)
		}
		return Grant{}, nil
	case User:
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
			return Grant{}, fmt.Errorf("%w: no access to collection %s", ErrForbidden, coll)
		}
		if method == "GET" && !rights.Read {
			return Grant{}, fmt.Errorf("%w: no read access to collection %s", ErrForbidden, coll)
		}
		if method != "GET" && !rights.Write {
			return Grant{}, fmt.Errorf("%w: no write access to collection %s", ErrForbidden, coll)
		}
		return Grant{Private: c.Private, Owner: p.Name}, nil
	}
	return Grant{}, fmt.Errorf("%w: unknown credentials", ErrUnauthorized)
}
