package media

import "sync"

// The in-memory copy of image sizes: a page of thumbnails is then served without a syscall.
const (
	maxCachedSize  = 256 << 10 // bytes of one cached size; larger ones are read from disk
	sizeCacheBytes = 16 << 20  // bytes of all cached sizes
)

// sizeCache keeps the bytes of recently read image sizes, first in first out, within
// sizeCacheBytes. Sizes never change, so an entry is only ever dropped (on delete) or evicted.
type sizeCache struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string
	bytes int
}

func (c *sizeCache) get(name string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

func (c *sizeCache) put(name string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[name]; ok || len(b) > maxCachedSize {
		return
	}
	for c.bytes+len(b) > sizeCacheBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.bytes -= len(c.m[old])
		delete(c.m, old)
	}
	c.m[name] = b
	c.order = append(c.order, name)
	c.bytes += len(b)
}

// drop forgets the sizes of id.
func (c *sizeCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range []Size{Thumb, Web} {
		name := id + "." + string(s)
		c.bytes -= len(c.m[name])
		delete(c.m, name)
	}
}

// maxCachedMetas bounds the metadata kept in memory (a few hundred bytes each).
const maxCachedMetas = 4096

// metaCache keeps the metadata of recently read files, first in first out. Metadata never
// changes; Delete drops it (under the archive's metaMu, see Get).
type metaCache struct {
	mu    sync.Mutex
	m     map[string]*Meta
	order []string
}

func (c *metaCache) get(id string) *Meta {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *metaCache) put(id string, m *Meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*Meta{}
	}
	if _, ok := c.m[id]; ok {
		return
	}
	for len(c.m) >= maxCachedMetas && len(c.order) > 0 {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[id] = m
	c.order = append(c.order, id)
}

func (c *metaCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
