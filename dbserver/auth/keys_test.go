package auth

import (
	"testing"

	"github.com/restkube/restkube/dbserver/settings"
)

func TestMatchPath(t *testing.T) {
	cases := map[string]struct {
		glob, path string
		want       bool
	}{
		"double star matches the collection":         {"/tasks/**", "/tasks", true},
		"double star matches a document":             {"/tasks/**", "/tasks/abc", true},
		"double star matches deeper paths":           {"/tasks/**", "/tasks/abc/sub", true},
		"double star does not match a sibling":       {"/tasks/**", "/tasksx", false},
		"double star does not match another":         {"/tasks/**", "/notes/abc", false},
		"single star matches one segment":            {"/tasks/*", "/tasks/abc", true},
		"single star needs a segment":                {"/tasks/*", "/tasks", false},
		"single star matches exactly one":            {"/tasks/*", "/tasks/a/b", false},
		"a leading star matches any collection":      {"/*", "/anything", true},
		"a leading star does not match a document":   {"/*", "/anything/abc", false},
		"double star alone matches everything":       {"/**", "/a/b/c", true},
		"a literal matches itself":                   {"/tasks", "/tasks", true},
		"a literal does not match a document":        {"/tasks", "/tasks/abc", false},
		"double star in the middle":                  {"/**/x", "/a/b/x", true},
		"double star in the middle matches none":     {"/**/x", "/x", true},
		"double star in the middle needs the suffix": {"/**/x", "/a/b", false},
		"the bulk-delete path is one segment":        {"/tasks/*", "/tasks/*", true},
		"case matters":                               {"/Tasks/**", "/tasks", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MatchPath(c.glob, c.path); got != c.want {
				t.Errorf("MatchPath(%q, %q) = %v, want %v", c.glob, c.path, got, c.want)
			}
		})
	}
}

func TestKeysMatch(t *testing.T) {
	keys := Keys{
		Full: "full-key",
		Web: []settings.WebKey{
			{Name: "a", Key: "web-a"},
			{Name: "empty", Key: ""},
			{Name: "b", Key: "web-b"},
			{Name: "b-again", Key: "web-b"},
		},
	}
	cases := map[string]struct {
		presented string
		kind      Kind
		webKey    string
	}{
		"the full key":                   {"full-key", FullKey, ""},
		"a web key":                      {"web-a", WebKey, "a"},
		"a later web key":                {"web-b", WebKey, "b"},
		"a prefix of a key is nothing":   {"full", 0, ""},
		"a key with a suffix is nothing": {"full-key2", 0, ""},
		"nothing presented is nothing":   {"", 0, ""},
		"an unknown key is nothing":      {"nope", 0, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := keys.Match(c.presented)
			if c.kind == 0 {
				if p != nil {
					t.Fatalf("matched %+v, want nil", p)
				}
				return
			}
			if p == nil || p.Kind != c.kind || p.Name != APIUser {
				t.Fatalf("got %+v, want kind %v named %q", p, c.kind, APIUser)
			}
			if c.webKey != "" && (p.WebKey == nil || p.WebKey.Name != c.webKey) {
				t.Errorf("web key %+v, want %q", p.WebKey, c.webKey)
			}
		})
	}
	if p := (Keys{}).Match("x"); p != nil {
		t.Errorf("no configured keys matched %+v", p)
	}
}

func TestWebKeyAllows(t *testing.T) {
	getOnly := &settings.WebKey{Paths: []string{"/tasks/**"}}
	writer := &settings.WebKey{Paths: []string{"/tasks/**", "/notes/*"}, Methods: []string{"GET", "post", "DELETE"}}
	cases := map[string]struct {
		key          *settings.WebKey
		method, path string
		want         bool
	}{
		"no methods means GET":             {getOnly, "GET", "/tasks", true},
		"no methods refuses POST":          {getOnly, "POST", "/tasks", false},
		"no methods refuses DELETE":        {getOnly, "DELETE", "/tasks/abc", false},
		"a listed method on a listed path": {writer, "POST", "/tasks", true},
		"methods compare without case":     {writer, "POST", "/notes/abc", true},
		"an unlisted method":               {writer, "PUT", "/tasks/abc", false},
		"an unlisted path":                 {writer, "GET", "/items", false},
		"a second glob":                    {writer, "DELETE", "/notes/*", true},
		"no paths allow nothing":           {&settings.WebKey{}, "GET", "/tasks", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := WebKeyAllows(c.key, c.method, c.path); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestOriginAllowed(t *testing.T) {
	origins := []string{"https://app.example", "http://localhost:3000/"}
	cases := map[string]struct {
		list   []string
		origin string
		want   bool
	}{
		"listed":                    {origins, "https://app.example", true},
		"case does not matter":      {origins, "HTTPS://APP.example", true},
		"a trailing slash is equal": {origins, "http://localhost:3000", true},
		"another scheme":            {origins, "http://app.example", false},
		"another port":              {origins, "http://localhost:3001", false},
		"a suffix attack":           {origins, "https://app.example.evil.com", false},
		"no origin":                 {origins, "", false},
		"an empty list":             {nil, "https://app.example", false},
		"a star":                    {[]string{"*"}, "https://any.example", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := OriginAllowed(c.list, c.origin); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
