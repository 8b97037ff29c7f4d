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
	// Match, when set, limits the caller to documents whose top-level string fields hold
	// these values (the children of one parent document); any other is treated as missing.
	Match map[string]string
}

// Sees reports whether the grant lets the caller see d at all.
func (g Grant) Sees(d jsondoc.Doc) bool {
	for k, want := range g.Match {
		if v, _ := d[k].(string); v != want {
			return false
		}
	}
	by, _ := d[jsondoc.FieldCreatedBy].(string)
	return g.SeesOwner(by)
}

// SeesOwner reports whether the grant's ownership rule (Private, Owner) lets the caller see a
// document whose _createdby is by: what the realtime hub knows of a document. Match narrows
// one request to the children of a parent; it is not a right, and it is not checked here.
func (g Grant) SeesOwner(by string) bool {
	return !g.Private || (g.Owner != "" && by == g.Owner)
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

// AuthorizeChild decides a request on the child documents of one parent document (restdb.io's
// parent-child relations): method on the child collection child, under a document of the
// collection parent, at path (relative to /rest, e.g. "/contact/ID/activities/CHILDID"). It
// returns the grant on the parent collection and the grant on the child collection.
//
// The full-access key may do anything. A web key's globs see the whole path, so a key limited
// to "/tasks/**" reaches the children of tasks and nothing else. An external user needs read
// rights on the parent collection (to see the parent) and the method's rights on the child
// collection; a private collection on either side hides other users' documents.
func AuthorizeChild(cfg *settings.Config, p *Principal, method, parent, child, path string) (parentGrant, childGrant Grant, err error) {
	if p.Kind != User {
		g, err := Authorize(cfg, p, method, parent, path)
		return g, g, err
	}
	if parentGrant, err = Authorize(cfg, p, "GET", parent, path); err != nil {
		return Grant{}, Grant{}, err
	}
	if childGrant, err = Authorize(cfg, p, method, child, path); err != nil {
		return Grant{}, Grant{}, err
	}
	return parentGrant, childGrant, nil
}
