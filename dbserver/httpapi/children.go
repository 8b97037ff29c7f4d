package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/planner"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/settings"
	"github.com/restkube/restkube/dbserver/store"
)

// bindChildren registers restdb.io's parent-child routes: /rest/<coll>/<id>/<sub> (list and
// create the children of one document) and /rest/<coll>/<id>/<sub>/<childid> (read, update,
// delete one child). <sub> is the parent's child-list field, and it names the collection the
// children are stored in: the children of /rest/contact/ID/activities are documents of the
// collection "activities" with _parent_id ID, _parent_def "contact" and _parent_field
// "activities".
func (s *Server) bindChildren() {
	s.Handle("/rest/{coll}/{id}/{sub}", s.handleChildren)
	s.Handle("/rest/{coll}/{id}/{sub}/{child}", s.handleChild)
}

// childRequest is one authorized request on the children of a document: parent addresses the
// parent document, child the child collection (and one child), with a grant that sees only
// the children of that parent.
type childRequest struct {
	parent, child *request
	link          store.Parent
}

// prepareChild runs the checks of prepare for a child route, then checks that the parent
// exists and that the caller may see it (404 otherwise).
func (s *Server) prepareChild(r *http.Request, allow ...string) (*childRequest, error) {
	method, err := effectiveMethod(r)
	if err != nil {
		return nil, err
	}
	served := false
	for _, a := range allow {
		served = served || a == method
	}
	if !served {
		return nil, MethodNotAllowed(method, allow...)
	}
	cfg := s.settings.Current()
	p, err := s.authenticate(r, cfg)
	if err != nil {
		return nil, err
	}
	pt, err := parseTarget(r)
	if err != nil {
		return nil, err
	}
	if pt.id == "*" {
		return nil, NewError(http.StatusBadRequest, "invalid parent id \"*\"")
	}
	sub := r.PathValue("sub")
	if !settings.CollectionName.MatchString(sub) {
		return nil, NewError(http.StatusBadRequest, "invalid child collection %q: it must match %s", truncate(sub), settings.CollectionName)
	}
	ct := target{coll: sub, id: r.PathValue("child"), path: pt.path + "/" + sub}
	if ct.id != "" {
		ct.path += "/" + ct.id
		if !store.ValidID(ct.id) {
			return nil, NewError(http.StatusBadRequest, "invalid child id %q: ids are 24 lowercase hex characters", truncate(ct.id))
		}
	}
	pg, cg, err := auth.AuthorizeChild(cfg, p, method, pt.coll, sub, ct.path)
	if err != nil {
		return nil, err
	}
	link := store.Parent{ID: pt.id, Def: pt.coll, Field: sub}
	cg.Match = map[string]string{jsondoc.FieldParentID: link.ID, jsondoc.FieldParentDef: link.Def, jsondoc.FieldParentField: link.Field}
	req := &childRequest{
		parent: &request{method: http.MethodGet, cfg: cfg, p: p, t: pt, g: pg},
		child:  &request{method: method, cfg: cfg, p: p, t: ct, g: cg},
		link:   link,
	}
	if _, err := s.visible(req.parent); err != nil {
		return nil, err
	}
	return req, nil
}

// handleChildren serves /rest/{coll}/{id}/{sub}: the children's list and creation.
func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request) error {
	req, err := s.prepareChild(r, http.MethodGet, http.MethodPost)
	if err != nil {
		return err
	}
	if req.child.method == http.MethodGet {
		vals, err := childQuery(r.URL.Query(), req.link)
		if err != nil {
			return err
		}
		return s.listValues(w, req.child, vals)
	}
	return s.createChildren(w, r, req)
}

// handleChild serves /rest/{coll}/{id}/{sub}/{childid}: one child, as /rest/{coll}/{id} serves
// one document. A child of another parent is a 404.
func (s *Server) handleChild(w http.ResponseWriter, r *http.Request) error {
	req, err := s.prepareChild(r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	if err != nil {
		return err
	}
	switch req.child.method {
	case http.MethodGet:
		return s.get(w, r, req.child)
	case http.MethodDelete:
		return s.delete(w, r, req.child)
	}
	return s.update(w, r, req.child)
}

// childQuery adds "the children of this parent" to the client's q, so that an index on
// _parent_id can answer it.
func childQuery(vals url.Values, link store.Parent) (url.Values, error) {
	own := map[string]any{jsondoc.FieldParentID: link.ID, jsondoc.FieldParentDef: link.Def, jsondoc.FieldParentField: link.Field}
	q := own
	if raw := vals.Get("q"); raw != "" {
		var client map[string]any
		if err := json.Unmarshal([]byte(raw), &client); err != nil {
			return nil, &query.Error{Field: "q", Message: "must be a JSON object: " + jsonProblem(err)}
		}
		q = client
		for k, v := range own {
			if _, clash := client[k]; clash {
				// The client asks about the parent fields too: both must hold.
				q = map[string]any{"$and": []any{client, own}}
				break
			}
			client[k] = v
		}
	}
	b, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("encoding the children's query: %w", err)
	}
	vals.Set("q", string(b))
	return vals, nil
}

// createChildren creates one child (an object) or several (an array) under the parent.
func (s *Server) createChildren(w http.ResponseWriter, r *http.Request, req *childRequest) error {
	v, err := readDoc(w, r, req.child.cfg, false)
	if err != nil {
		return err
	}
	var in []store.Doc
	switch body := v.(type) {
	case map[string]any:
		in = []store.Doc{body}
	case []any:
		for i, e := range body {
			obj, ok := e.(map[string]any)
			if !ok {
				e := NewError(http.StatusBadRequest, "every element of a bulk create must be an object")
				e.List = []FieldError{{Field: fmt.Sprintf("[%d]", i), Message: "must be an object"}}
				return e
			}
			in = append(in, obj)
		}
	default:
		return NewError(http.StatusBadRequest, "the body must be a JSON object or an array of objects")
	}
	docs := []store.Doc{}
	if len(in) > 0 {
		docs, err = s.store.InsertChildren(req.child.t.coll, in, req.child.p.Name, req.link)
		if err != nil {
			return fmt.Errorf("creating children in %s: %w", req.child.t.coll, err)
		}
	}
	if _, isObject := v.(map[string]any); isObject {
		setETag(w, docs[0])
		writeJSON(w, http.StatusCreated, docs[0])
		return nil
	}
	writeJSON(w, http.StatusCreated, docs)
	return nil
}

// withChildren adds to a parent document (?fetchchildren=true) its children, one array per
// child-list field, from every collection the caller may read them in. Children are looked
// up by _parent_id and _parent_def in each collection (an index on _parent_id makes that a
// lookup); at most the query's default page of children per collection.
func (s *Server) withChildren(req *request, res any) (any, error) {
	var doc map[string]any
	switch d := res.(type) {
	case json.RawMessage:
		v, err := jsondoc.DecodeJSON(d)
		if err != nil {
			return nil, fmt.Errorf("decoding %s/%s: %w", req.t.coll, req.t.id, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("decoding %s/%s: not an object", req.t.coll, req.t.id)
		}
		doc = m
	case store.Doc:
		doc = d
	default:
		return nil, fmt.Errorf("fetching children of %s/%s: unexpected %T", req.t.coll, req.t.id, res)
	}
	colls, err := s.store.Collections()
	if err != nil {
		return nil, fmt.Errorf("listing collections: %w", err)
	}
	q, err := query.ParseRequest(url.Values{}, query.Options{Now: s.now(), MaxPageSize: req.cfg.Settings.Limits.MaxPageSize})
	if err != nil {
		return nil, err
	}
	own := map[string]string{jsondoc.FieldParentID: req.t.id, jsondoc.FieldParentDef: req.t.coll}
	for _, coll := range colls {
		if coll == auth.UsersCollection {
			continue
		}
		_, cg, err := auth.AuthorizeChild(req.cfg, req.p, http.MethodGet, req.t.coll, coll, req.t.path+"/"+coll)
		if err != nil {
			continue // children the caller may not read are left out, silently
		}
		cg.Match = own
		child := request{g: cg}
		opts := child.readOptions()
		page, _, err := planner.Execute(s.store, coll, q, opts)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, fmt.Errorf("fetching children of %s/%s in %s: %w", req.t.coll, req.t.id, coll, err)
		}
		if err := addChildren(doc, page); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// addChildren files each child of page (a query answer) under its _parent_field.
func addChildren(doc map[string]any, page any) error {
	var list []map[string]any
	switch p := page.(type) {
	case json.RawMessage:
		if err := json.Unmarshal(p, &list); err != nil {
			return fmt.Errorf("decoding children: %w", err)
		}
	case []map[string]any:
		list = p
	case []any:
		for _, e := range p {
			if m, ok := e.(map[string]any); ok {
				list = append(list, m)
			}
		}
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encoding children: %w", err)
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("decoding children: %w", err)
		}
	}
	for _, c := range list {
		field, _ := c[jsondoc.FieldParentField].(string)
		if field == "" || jsondoc.IsSystemField(field) {
			continue
		}
		arr, _ := doc[field].([]any)
		doc[field] = append(arr, c)
	}
	return nil
}
