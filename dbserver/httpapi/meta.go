package httpapi

import (
	"net/http"
	"slices"

	"github.com/restkube/restkube/dbserver/auth"
	"github.com/restkube/restkube/dbserver/settings"
)

// bindMeta registers the schema endpoints: GET /rest/_meta (every collection the caller may
// read, the system collection users included) and GET /rest/<coll>/_meta (one of them).
func (s *Server) bindMeta() {
	s.Handle("/rest/_meta", s.handleMetaList)
	s.Handle("/rest/{coll}/_meta", s.handleMeta)
}

// collectionMeta describes one collection. RestKube keeps no field schema (documents are
// free-form), so the fields listed are the system fields every document has.
type collectionMeta struct {
	Name    string      `json:"name"`
	System  bool        `json:"system"`
	Private bool        `json:"private"`
	Indexes []string    `json:"indexes"`
	Fields  []fieldMeta `json:"fields"`
}

type fieldMeta struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	System bool   `json:"system"`
}

// metaFields are the fields every collection's _meta lists.
var metaFields = []fieldMeta{
	{"_id", "objectid", true}, {"_created", "datetime", true}, {"_changed", "datetime", true},
	{"_createdby", "text", true}, {"_changedby", "text", true}, {"_version", "number", true},
}

// metaPath is the path whose GET a caller needs to see a collection in _meta.
func metaPath(coll string) string { return "/" + coll + "/_meta" }

func (s *Server) describe(cfg *settings.Config, coll string) collectionMeta {
	m := collectionMeta{Name: coll, System: coll == auth.UsersCollection, Indexes: []string{}, Fields: metaFields}
	if c := cfg.Settings.Collection(coll); c != nil {
		m.Private = c.Private
		if c.Indexes != nil {
			m.Indexes = slices.Clone(c.Indexes)
		}
	}
	return m
}

func (s *Server) handleMetaList(w http.ResponseWriter, r *http.Request) error {
	method, err := effectiveMethod(r)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		return MethodNotAllowed(method, http.MethodGet)
	}
	cfg := s.settings.Current()
	p, err := s.authenticate(r, cfg)
	if err != nil {
		return err
	}
	names, err := s.store.Collections()
	if err != nil {
		return err
	}
	for _, c := range cfg.Settings.Collections {
		names = append(names, c.Name)
	}
	names = append(names, auth.UsersCollection)
	slices.Sort(names)
	names = slices.Compact(names)
	out := []collectionMeta{}
	for _, n := range names {
		if _, err := auth.Authorize(cfg, p, http.MethodGet, n, metaPath(n)); err == nil {
			out = append(out, s.describe(cfg, n))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleMeta(w http.ResponseWriter, r *http.Request) error {
	method, err := effectiveMethod(r)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		return MethodNotAllowed(method, http.MethodGet)
	}
	cfg := s.settings.Current()
	p, err := s.authenticate(r, cfg)
	if err != nil {
		return err
	}
	t, err := parseTarget(r)
	if err != nil {
		return err
	}
	if _, err := auth.Authorize(cfg, p, http.MethodGet, t.coll, metaPath(t.coll)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.describe(cfg, t.coll))
	return nil
}
