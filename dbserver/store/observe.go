package store

// Op names what a committed write did to a document.
type Op int

const (
	// OpInsert is a document created by Insert (one per document of a bulk insert).
	OpInsert Op = iota + 1
	// OpUpdate is a document changed by Update.
	OpUpdate
	// OpDelete is one document removed by Delete, DeleteMany or DeleteWhere.
	OpDelete
)

// Change is one document changed by a committed write, as an observer sees it.
type Change struct {
	// Op is what happened to the document.
	Op Op
	// Coll is the collection's name.
	Coll string
	// ID is the document's _id.
	ID string
	// Doc is the stored JSON of the new version (OpInsert, OpUpdate); nil for OpDelete. It is
	// the store's own copy, never changed afterwards: an observer may keep it.
	Doc []byte
	// CreatedBy is the document's _createdby, for filtering private collections.
	CreatedBy string
}

// changes collects the Changes of one write while it runs. A nil *changes (no observer)
// collects nothing, so writes pay nothing for observation when nobody observes.
type changes struct {
	list []Change
}

// add records c; on a nil receiver it does nothing.
func (c *changes) add(ch Change) {
	if c != nil {
		c.list = append(c.list, ch)
	}
}

// on tells whether anyone observes, so that a write can skip work done only for observers.
func (c *changes) on() bool { return c != nil }

// reset forgets what a failed attempt recorded before the write runs again.
func (c *changes) reset() {
	if c != nil {
		clear(c.list)
		c.list = c.list[:0]
	}
}
