package realtime

import (
	"strings"
)

// Channels is a parsed list of restdb.io channels (<METHOD>:<NAME>, see settings.ChannelPattern):
// what a web key or an external user may hear. The zero value allows nothing.
type Channels struct {
	// allow maps a method ("POST", "PUT", "DELETE", "PUBLISH", "*") to the names it allows
	// ("*" for any).
	allow map[string]map[string]bool
}

// ParseChannels reads channels as settings.Validate has checked them; an entry that does not
// have the form METHOD:NAME is ignored. PATCH is PUT (restdb.io reports both as put).
func ParseChannels(list []string) Channels {
	c := Channels{allow: map[string]map[string]bool{}}
	for _, ch := range list {
		method, name, ok := strings.Cut(strings.TrimSpace(ch), ":")
		if !ok || method == "" || name == "" {
			continue
		}
		method = strings.ToUpper(method)
		if method == "PATCH" {
			method = "PUT"
		}
		if c.allow[method] == nil {
			c.allow[method] = map[string]bool{}
		}
		c.allow[method][name] = true
	}
	return c
}

// Allows reports whether the channels let their holder hear method ("POST", "PUT", "DELETE"
// or "PUBLISH") on name (a collection, or a published event's name).
func (c Channels) Allows(method, name string) bool {
	for _, m := range [2]string{method, "*"} {
		if names := c.allow[m]; names != nil && (names[name] || names["*"]) {
			return true
		}
	}
	return false
}
