package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/restkube/restkube/dbserver/settings"
)

// APIUser is the name that writes made with an API key (full or web) record in _createdby/_changedby.
const APIUser = "api"

// Keys are the API keys a request may present: the full-access key and the web keys.
type Keys struct {
	// Full is the full-access key (the api-key file); empty means no full-access key.
	Full string
	// Web are the restricted keys of settings apiKeys.web.
	Web []settings.WebKey
}

// Match tells which key presented is: a FullKey or WebKey Principal, or nil if none.
//
// Every configured key is compared, whatever matched before, and the comparison runs on
// SHA-256 digests so that neither the position of a match nor the keys' lengths show in the
// time taken. An empty presented or configured key never matches.
func (k Keys) Match(presented string) *Principal {
	if presented == "" {
		return nil
	}
	digest := sha256.Sum256([]byte(presented))
	fullHit := equalDigest(digest, k.Full)
	webHit := -1
	for i := range k.Web {
		// Select without branching on a previous hit: the loop always runs to the end.
		hit := equalDigest(digest, k.Web[i].Key)
		webHit = subtle.ConstantTimeSelect(hit&boolInt(webHit < 0), i, webHit)
	}
	switch {
	case fullHit == 1:
		return &Principal{Kind: FullKey, Name: APIUser}
	case webHit >= 0:
		wk := k.Web[webHit]
		return &Principal{Kind: WebKey, Name: APIUser, WebKey: &wk}
	}
	return nil
}

// equalDigest returns 1 when key is non-empty and its digest equals d, else 0, in constant time.
func equalDigest(d [sha256.Size]byte, key string) int {
	kd := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(d[:], kd[:]) & boolInt(key != "")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WebKeyAllows reports whether the web key may use method on path, a path relative to /rest
// ("/tasks/ID"). A key without methods allows GET only.
func WebKeyAllows(k *settings.WebKey, method, path string) bool {
	return webKeyMethod(k, method) && webKeyPath(k, path)
}

func webKeyMethod(k *settings.WebKey, method string) bool {
	if len(k.Methods) == 0 {
		return method == "GET"
	}
	for _, m := range k.Methods {
		if strings.EqualFold(strings.TrimSpace(m), method) {
			return true
		}
	}
	return false
}

func webKeyPath(k *settings.WebKey, path string) bool {
	for _, g := range k.Paths {
		if MatchPath(g, path) {
			return true
		}
	}
	return false
}

// MatchPath reports whether path matches glob, both slash-separated: "*" matches exactly one
// segment, "**" any number of segments including none, anything else itself. Empty segments
// (doubled or trailing slashes) are ignored on both sides.
func MatchPath(glob, path string) bool {
	return matchSegments(segments(glob), segments(path))
}

func segments(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func matchSegments(glob, path []string) bool {
	for len(glob) > 0 {
		switch glob[0] {
		case "**":
			// Try every split; globs are a handful of segments, so this stays small.
			for i := 0; i <= len(path); i++ {
				if matchSegments(glob[1:], path[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(path) == 0 {
				return false
			}
		default:
			if len(path) == 0 || glob[0] != path[0] {
				return false
			}
		}
		glob, path = glob[1:], path[1:]
	}
	return len(path) == 0
}

// OriginAllowed reports whether origin is one of origins ("*" allows any). Origins compare
// case-insensitively and without a trailing slash, as browsers send them normalised.
func OriginAllowed(origins []string, origin string) bool {
	if origin == "" {
		return false
	}
	o := normOrigin(origin)
	for _, a := range origins {
		if a == "*" || normOrigin(a) == o {
			return true
		}
	}
	return false
}

func normOrigin(o string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
}
