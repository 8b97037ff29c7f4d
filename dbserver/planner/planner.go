package planner

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/restkube/restkube/dbserver/jsondoc"
	"github.com/restkube/restkube/dbserver/query"
	"github.com/restkube/restkube/dbserver/store"
)

// Kind names a plan.
type Kind string

// The plans, in the order Execute prefers them.
const (
	IDs        Kind = "ids"
	IndexEq    Kind = "index-eq"
	IndexOrder Kind = "index-order"
	IndexRange Kind = "index-range"
	Scan       Kind = "scan"
)

// Plan tells how a query was answered.
type Plan struct {
	Kind Kind
	// Field is the indexed field used (empty for IDs and Scan).
	Field string
	// Examined counts the documents read and tested.
	Examined int
	// Covered counts the candidates tested on their index entry alone (of those examined): a
	// document is read only once it matches.
	Covered int
	// InOrder is true when an index walk started keeping its matches in the page's order
	// (sort on the indexed field, ascending); it may have gone back to sorting them.
	InOrder bool
	// Stopped is true when reading ended before the candidates did (early stop).
	Stopped bool
	// Raw is true when the answer was written from the stored JSON (see the package doc).
	Raw bool
}

// RawPage is the answer of totals=true written from stored JSON: query.Page's shape.
type RawPage struct {
	Data   json.RawMessage `json:"data"`
	Totals query.Totals    `json:"totals"`
}

// Options adapt Execute to the caller.
type Options struct {
	// Allow, when set, hides documents the caller may not see (private collections); they
	// count as non-matching.
	Allow func(store.Doc) bool
	// AllowFields names the top-level fields Allow reads, so candidates can be tested on a
	// partial decode; nil makes Allow get whole documents.
	AllowFields []string
	// Stream, when set, receives a page written from stored JSON that is larger than
	// StreamChunk: Execute calls it once, with the plan and about the page's size in bytes
	// (at most that), when it starts writing the page, and
	// writes the page to the writer it returns in chunks of about StreamChunk bytes, inside the
	// read transaction; it then returns Streamed. Smaller pages are returned as without Stream.
	// So a large page is never held whole: a connection holds one chunk at a time.
	Stream func(p Plan, size int) io.Writer
	// Buffer, when not nil, receives a page written from stored JSON (from its start; it is
	// grown as needed), so that a caller can recycle the memory of its answers.
	Buffer []byte
	// MaxGroups bounds the groups of an aggregate answer (0: query.DefaultMaxGroups); past it
	// Execute fails with a *query.Error naming groupby.
	MaxGroups int
}

// StreamChunk is the size of the chunks a streamed page is written in (Options.Stream).
const StreamChunk = 64 << 10

// Streamed is the result of Execute for a page written to Options.Stream.
type Streamed struct {
	// Bytes is the length of the page.
	Bytes int64
}

// StreamError wraps the error of Options.Stream's writer (the client went away or stopped
// reading): the page is cut, and nothing more can be sent.
type StreamError struct{ Err error }

func (e *StreamError) Error() string { return "planner: writing the page: " + e.Err.Error() }

// Unwrap returns the writer's error.
func (e *StreamError) Unwrap() error { return e.Err }

// Execute answers req over the collection coll and returns the value of req.Result.
func Execute(st *store.Store, coll string, req *query.Request, opts Options) (any, Plan, error) {
	e := &exec{coll: coll, req: req, opts: opts, matched: []store.Doc{}}
	e.setup()
	var res any
	err := st.View(func(sn *store.Snapshot) error {
		e.sn = sn
		if err := e.run(); err != nil {
			return err
		}
		if e.raw {
			// Inside the read transaction: the stored bytes of the matches are still valid
			// there, so the page is written from them without copying each first.
			var err error
			res, err = e.rawResult()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, e.plan, fmt.Errorf("planner: querying %s: %w", coll, err)
	}
	if e.agg != nil {
		return e.agg.Result(), e.plan, nil
	}
	if !e.raw {
		return req.Result(e.matched), e.plan, nil
	}
	return res, e.plan, nil
}

// rawKey is the entry of a partially decoded match that points to its stored bytes in raws.
// No query field can be named so: Execute checks.
const rawKey = "\x00raw"

// rawResult writes the page from the stored JSON of the matches: each document copied
// without its hidden system fields, or decoded and presented when $fields projects it, in one
// array or in groupby's groups. Every document of the page is checked first (CheckDoc), so a
// page holding one that does not decode fails before anything is written or streamed. A page
// past StreamChunk goes to Options.Stream in chunks.
func (e *exec) rawResult() (any, error) {
	var page [][]byte
	total := 0
	if e.inOrder || e.scanOrder {
		// Already in the page's order: the page is a slice of it.
		total = len(e.raws)
		start, end := min(e.req.Skip, total), total
		if e.req.Max > 0 {
			end = min(start+e.req.Max, total)
		}
		page = e.raws[start:end]
	} else {
		var docs []store.Doc
		docs, total = e.req.PageOf(e.matched)
		page = make([][]byte, len(docs))
		for i, d := range docs {
			page[i] = e.raws[d[rawKey].(int)]
		}
	}
	size := 2 + len(page)
	for _, raw := range page {
		if err := jsondoc.CheckDoc(raw); err != nil {
			return nil, store.Corrupt(e.coll, raw, err)
		}
		size += len(raw)
	}
	grouped := len(e.req.GroupBy) > 0
	var keys [][]string
	var order []int
	if grouped {
		var err error
		if keys, order, err = e.groupPage(page); err != nil {
			return nil, err
		}
	}
	totals := query.Totals{Total: total, Count: len(page), Skip: e.req.Skip, Max: e.req.Max}
	withTotals := e.req.Totals && !grouped
	pw := &pageWriter{buf: e.opts.Buffer[:0]}
	if e.opts.Stream != nil && size > StreamChunk {
		pw.w = e.opts.Stream(e.plan, size)
		if withTotals {
			pw.buf = append(pw.buf, `{"data":`...)
		}
	} else {
		pw.buf = slices.Grow(pw.buf, size)
	}
	var err error
	if grouped {
		err = e.writeGroups(pw, page, keys, order, 0)
	} else {
		err = e.writeDocs(pw, page, nil)
	}
	if err != nil {
		return nil, err
	}
	if pw.w == nil {
		if withTotals {
			return RawPage{Data: pw.buf, Totals: totals}, nil
		}
		return json.RawMessage(pw.buf), nil
	}
	if withTotals {
		t, err := json.Marshal(totals)
		if err != nil {
			return nil, err
		}
		pw.buf = append(append(append(pw.buf, `,"totals":`...), t...), '}')
	}
	if err := pw.flush(true); err != nil {
		return nil, err
	}
	return Streamed{Bytes: pw.sent}, nil
}

// pageWriter collects a page in buf; with w (a streamed page) it hands buf to w whenever it
// passes StreamChunk, so it never holds more than about a chunk.
type pageWriter struct {
	buf  []byte
	w    io.Writer
	sent int64
}

func (p *pageWriter) flush(force bool) error {
	if p.w == nil || len(p.buf) < StreamChunk && !force {
		return nil
	}
	n, err := p.w.Write(p.buf)
	p.sent += int64(n)
	p.buf = p.buf[:0]
	if err != nil {
		return &StreamError{err}
	}
	return nil
}

// writeDocs writes the documents of page (those at the indexes idx, or all when idx is nil)
// as a JSON array.
func (e *exec) writeDocs(pw *pageWriter, page [][]byte, idx []int) error {
	var drop []string
	if !e.req.Metafields {
		drop = jsondoc.SystemFields()
	}
	// An including projection reads a few fields: only those are decoded, or, when they are
	// all top-level ones, copied from the stored JSON as they are.
	fields, partial := e.req.PresentFields()
	keep, copied := e.req.PresentKeeps()
	n := len(page)
	if idx != nil {
		n = len(idx)
	}
	pw.buf = append(pw.buf, '[')
	for i := range n {
		raw := page[i]
		if idx != nil {
			raw = page[idx[i]]
		}
		if i > 0 {
			pw.buf = append(pw.buf, ',')
		}
		var err error
		if copied {
			pw.buf, err = jsondoc.AppendObjectOnly(pw.buf, raw, keep)
		} else if e.req.Projected() {
			var d store.Doc
			if partial {
				d, err = jsondoc.DecodeFields(raw, fields)
			} else {
				d, err = jsondoc.DecodeDoc(raw)
			}
			if err == nil {
				pw.buf, err = jsondoc.AppendJSON(pw.buf, e.req.Present(d), false)
			}
		} else {
			pw.buf, err = jsondoc.AppendObjectWithout(pw.buf, raw, drop)
		}
		if err != nil {
			return store.Corrupt(e.coll, raw, err)
		}
		if err := pw.flush(false); err != nil {
			return err
		}
	}
	pw.buf = append(pw.buf, ']')
	return nil
}

// groupPage returns the groupby keys of each document of page (Request.GroupKeys on the fields
// the keys read), and the page's indexes ordered by them, in page order within a group: the
// order Result's groups are written in (encoding/json sorts a map's keys). A page holds a flat
// list of keys, not a tree of groups, so grouping costs about a string per document and level.
func (e *exec) groupPage(page [][]byte) (keys [][]string, order []int, err error) {
	levels := len(e.req.GroupBy)
	all := make([]string, len(page)*levels)
	keys = make([][]string, len(page))
	order = make([]int, len(page))
	fields := e.req.GroupFields()
	p := make(store.Doc, len(fields))
	for i, raw := range page {
		// One map, decoded into again for each document: only the keys are kept.
		if err := jsondoc.DecodeFieldsInto(p, raw, fields); err != nil {
			return nil, nil, store.Corrupt(e.coll, raw, err)
		}
		keys[i] = e.req.GroupKeys(all[i*levels:i*levels:(i+1)*levels], p)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return slices.Compare(keys[a], keys[b]) })
	return keys, order, nil
}

// writeGroups writes the documents of page at the indexes idx (ordered by groupPage, all with
// the same keys before level) as Result's groupby answer from level on: an object of the keys
// at level, each holding the next level or, past the last, the array of its documents.
func (e *exec) writeGroups(pw *pageWriter, page [][]byte, keys [][]string, idx []int, level int) error {
	if level == len(e.req.GroupBy) {
		return e.writeDocs(pw, page, idx)
	}
	pw.buf = append(pw.buf, '{')
	for start := 0; start < len(idx); {
		k := keys[idx[start]][level]
		end := start + 1
		for end < len(idx) && keys[idx[end]][level] == k {
			end++
		}
		if start > 0 {
			pw.buf = append(pw.buf, ',')
		}
		var err error
		if pw.buf, err = jsondoc.AppendJSON(pw.buf, k, false); err != nil {
			return err
		}
		pw.buf = append(pw.buf, ':')
		if err := e.writeGroups(pw, page, keys, idx[start:end], level+1); err != nil {
			return err
		}
		start = end
	}
	pw.buf = append(pw.buf, '}')
	return nil
}

type exec struct {
	sn   *store.Snapshot
	coll string
	req  *query.Request
	opts Options

	fields []string // fields for the partial decode; nil: decode in full
	// answerFields are the top-level fields the answer reads beyond the conditions
	// (query.Request.AnswerFields).
	answerFields []string
	agg          *query.Aggregator // the aggregates of an aggregate answer, folded in as matches come
	limit        int               // matches after which an ordered read may stop; -1: never
	matched      []store.Doc
	raw          bool     // answer from stored JSON: matched holds partial decodes, raws the bytes
	raws         [][]byte // stored bytes of the matches, when raw: valid only in the read transaction
	plan         Plan

	// In order (see ordered): the matches so far are only in raws, already in the page's
	// order, with their sort values and ids kept for a return to matched.
	inOrder    bool
	scanOrder  bool // a scan in _id order for a page sorted by _id: matches only in raws
	matchAll   bool // every document matches (no condition, no filter, no Allow)
	noConds    bool // no condition and no Allow (a filter may remain)
	orderField string
	orderVals  []any
	orderIDs   [][]byte
	probe      store.Doc // the partial document covered candidates are tested on, in order

	readsID      bool // fields include _id (always so when the answer is written from stored JSON)
	matchReadsID bool // the query's conditions read _id
}

func (e *exec) setup() {
	e.limit = -1
	r := e.req
	if !r.Totals && len(r.GroupBy) == 0 && len(r.Aggregates) == 0 {
		e.limit = r.Skip + r.Max
		if e.limit > 0 {
			// The usual page: room for it up front (a walk can stop past it, at a new value).
			e.matched = make([]store.Doc, 0, min(e.limit, 1024))
		}
	}
	if !r.Paged() {
		// Aggregates are folded in as the matches come: memory per group, not per match.
		e.agg = r.NewAggregator(cmp.Or(e.opts.MaxGroups, query.DefaultMaxGroups))
	}
	e.answerFields = r.AnswerFields()
	f, ok := r.Match.Fields()
	if !ok || e.opts.Allow != nil && e.opts.AllowFields == nil {
		// Matching needs whole documents; a page is still written from the stored JSON.
		e.raw = r.Paged()
		e.plan.Raw = e.raw
		return
	}
	e.matchReadsID = slices.Contains(f, jsondoc.FieldID)
	e.noConds = r.Match.MatchesAll() && e.opts.Allow == nil
	e.matchAll = e.noConds && len(r.Filter) == 0
	add := func(list []string) {
		for _, a := range list {
			if !slices.Contains(f, a) {
				f = append(f, a)
			}
		}
	}
	add(e.opts.AllowFields)
	add(e.answerFields)
	if r.Paged() {
		e.raw = !slices.Contains(f, rawKey)
		e.plan.Raw = e.raw
	}
	if len(f) > 0 {
		e.fields = f
	}
	e.readsID = slices.Contains(f, jsondoc.FieldID)
}

func (e *exec) sortKey() query.SortKey {
	if len(e.req.Sort) == 0 {
		return query.SortKey{Field: jsondoc.FieldID, Dir: 1}
	}
	return e.req.Sort[0]
}

// full reports whether the early-stop limit is reached.
func (e *exec) full() bool { return e.limit >= 0 && e.count() >= e.limit }

// count is the number of matches so far.
func (e *exec) count() int {
	if e.inOrder || e.scanOrder {
		return len(e.raws)
	}
	return len(e.matched)
}

// leaveOrder turns the matches kept in order into partial documents in matched, to be
// sorted with others: what an in-order walk does before a candidate that breaks the order.
func (e *exec) leaveOrder() {
	if !e.inOrder {
		return
	}
	e.inOrder = false
	for i := range e.raws {
		p := coveredDoc(e.orderField, e.orderVals[i], e.orderIDs[i], e.readsID)
		p[rawKey] = i
		e.matched = append(e.matched, p)
	}
	e.orderVals, e.orderIDs = nil, nil
}

// consider tests one stored document and keeps it if it matches.
func (e *exec) consider(raw []byte) error {
	if raw == nil {
		return nil
	}
	e.leaveOrder()
	e.plan.Examined++
	if e.scanOrder && e.noConds {
		// Nothing to test but a full-text filter (on the stored JSON), nothing to sort by but
		// the walk's order: not even a partial decode.
		if !e.matchAll {
			ok, err := e.req.MatchesFilterRaw(raw)
			if err != nil {
				return store.Corrupt(e.coll, raw, err)
			}
			if !ok {
				return nil
			}
		}
		e.raws = append(e.raws, raw)
		return nil
	}
	if e.fields != nil {
		p, err := jsondoc.DecodeFields(raw, e.fields)
		if err != nil {
			return store.Corrupt(e.coll, raw, err)
		}
		if e.opts.Allow != nil && !e.opts.Allow(p) || !e.req.Match.Match(p) {
			return nil
		}
		if len(e.req.Filter) > 0 {
			// Full-text search on the stored JSON: no document is decoded to be searched.
			ok, err := e.req.MatchesFilterRaw(raw)
			if err != nil {
				return store.Corrupt(e.coll, raw, err)
			}
			if !ok {
				return nil
			}
		}
		return e.keep(p, raw)
	}
	d, err := jsondoc.DecodeDoc(raw)
	if err != nil {
		return store.Corrupt(e.coll, raw, err)
	}
	if e.opts.Allow != nil && !e.opts.Allow(d) || !e.req.Matches(d) {
		return nil
	}
	switch {
	case e.agg != nil:
		return e.agg.Add(d)
	case e.raw:
		// Only what the page is picked by is kept with the stored bytes, not the whole.
		p := make(store.Doc, len(e.answerFields)+1)
		for _, f := range e.answerFields {
			if v, ok := d[f]; ok {
				p[f] = v
			}
		}
		return e.keep(p, raw)
	}
	e.matched = append(e.matched, d)
	return nil
}

// covers reports whether the entries of the index on field hold everything a candidate is
// tested and sorted on: the query reads only field (a top-level one) and _id, and no Allow
// needs the document. Where an entry's value is a scalar, that value is then the document's,
// and the document is read only if it matches.
func (e *exec) covers(field string) bool {
	if e.fields == nil || e.opts.Allow != nil || len(e.req.Filter) > 0 || strings.Contains(field, ".") {
		return false
	}
	for _, f := range e.fields {
		if f != field && f != jsondoc.FieldID {
			return false
		}
	}
	return true
}

// considerCovered is consider for a candidate known by its index entry: value (a scalar) and id.
func (e *exec) considerCovered(field string, value any, id []byte) error {
	e.plan.Examined++
	e.plan.Covered++
	if e.inOrder {
		// Kept in order, nothing to sort: the condition is tested on one reused document.
		clear(e.probe)
		e.probe[field] = value
		if e.matchReadsID {
			e.probe[jsondoc.FieldID] = store.ObjectID(id).String()
		}
		if !e.req.Match.Match(e.probe) {
			return nil
		}
		raw := e.sn.Raw(e.coll, id)
		if raw == nil {
			return nil
		}
		e.raws = append(e.raws, raw)
		e.orderVals = append(e.orderVals, value)
		e.orderIDs = append(e.orderIDs, id)
		return nil
	}
	p := coveredDoc(field, value, id, e.readsID)
	if !e.req.Match.Match(p) {
		return nil
	}
	raw := e.sn.Raw(e.coll, id)
	if raw == nil {
		return nil
	}
	return e.keep(p, raw)
}

// keep records a match: its partial decode p (which holds every field the answer reads) into
// the aggregates, or with its stored bytes raw when the answer is written from stored JSON,
// else the whole document.
func (e *exec) keep(p store.Doc, raw []byte) error {
	if e.agg != nil {
		// Folded in from a partial decode, but checked whole as a page's documents are: an
		// answer over a document that does not decode fails, whatever shape it has.
		if err := jsondoc.CheckDoc(raw); err != nil {
			return store.Corrupt(e.coll, raw, err)
		}
		return e.agg.Add(p)
	}
	if e.scanOrder {
		e.raws = append(e.raws, raw)
		return nil
	}
	if e.raw {
		p[rawKey] = len(e.raws)
		e.raws = append(e.raws, raw)
		e.matched = append(e.matched, p)
		return nil
	}
	d, err := jsondoc.DecodeDoc(raw)
	if err != nil {
		return store.Corrupt(e.coll, raw, err)
	}
	e.matched = append(e.matched, d)
	return nil
}

// coveredDoc is the partial document of a candidate known by its index entry, with its _id
// when withID.
func coveredDoc(field string, value any, id []byte, withID bool) store.Doc {
	p := make(store.Doc, 3) // field, _id and the raw index
	p[field] = value
	if withID {
		p[jsondoc.FieldID] = store.ObjectID(id).String()
	}
	return p
}

func (e *exec) run() error {
	conds := e.req.Match.IndexConditions()
	sk := e.sortKey()
	// 1. _id equality.
	for _, c := range conds {
		if c.Field == jsondoc.FieldID && c.Eq != nil {
			e.plan.Kind = IDs
			return e.fetch(idsOf(c.Eq))
		}
	}
	// 2. Equality on an indexed field, the fewest values first.
	var best *query.Condition
	for i, c := range conds {
		if c.Eq != nil && e.usable(c) && (best == nil || len(c.Eq) < len(best.Eq)) {
			best = &conds[i]
		}
	}
	if best != nil {
		e.plan.Kind, e.plan.Field = IndexEq, best.Field
		var ranges []store.KeyRange
		for _, v := range best.Eq {
			enc := store.EncodeIndexValue(v)
			ranges = append(ranges, store.KeyRange{Low: enc, High: enc, LowIncl: true, HighIncl: true})
		}
		return e.fetch(e.gather(best.Field, ranges))
	}
	// 3. A range on the indexed sort field.
	for _, c := range conds {
		if c.Field == sk.Field && e.usable(c) {
			e.plan.Kind, e.plan.Field = IndexOrder, c.Field
			r := rangeOf(c)
			return e.ordered(c.Field, &r, sk.Dir < 0)
		}
	}
	// 4. A range on another indexed field, two-sided first.
	var rc *query.Condition
	for i, c := range conds {
		if e.usable(c) && (rc == nil || rc.Low == nil || rc.High == nil) {
			rc = &conds[i]
		}
	}
	if rc != nil {
		e.plan.Kind, e.plan.Field = IndexRange, rc.Field
		return e.fetch(e.gather(rc.Field, []store.KeyRange{rangeOf(*rc)}))
	}
	// 5. Sort by an indexed field.
	if sk.Field != jsondoc.FieldID && e.limit >= 0 && e.sn.Indexed(e.coll, sk.Field) {
		e.plan.Kind, e.plan.Field = IndexOrder, sk.Field
		return e.ordered(sk.Field, nil, sk.Dir < 0)
	}
	// 6. Scan in _id order.
	e.plan.Kind = Scan
	byID := sk.Field == jsondoc.FieldID
	// Sorted by _id, the walk meets the matches in the page's order: keep their stored bytes
	// only, without a partial document each (a page of 10,000 held 10,000 small maps).
	e.scanOrder = byID && e.raw
	var err error
	e.sn.Docs(e.coll, byID && sk.Dir < 0, func(_, raw []byte) bool {
		if byID && e.full() {
			e.plan.Stopped = true
			return false
		}
		err = e.consider(raw)
		return err == nil
	})
	return err
}

// usable reports whether an index can serve c: the field is indexed, no operand is a date
// (dates match ISO strings by time, not by string order), every operand encodes within
// store.MaxIndexValue, and a range's bounds have one type.
func (e *exec) usable(c query.Condition) bool {
	if c.Field == jsondoc.FieldID || !e.sn.Indexed(e.coll, c.Field) {
		return false
	}
	ok := func(v any) bool {
		if _, isTime := v.(time.Time); isTime {
			return false
		}
		return len(store.EncodeIndexValue(v)) < store.MaxIndexValue
	}
	for _, v := range c.Eq {
		if !ok(v) {
			return false
		}
	}
	if c.Eq != nil {
		return true
	}
	if c.Low != nil && !ok(c.Low) || c.High != nil && !ok(c.High) {
		return false
	}
	if c.Low != nil && c.High != nil {
		// Mixed types ($bt:[1,"z"]) match nothing under type bracketing; a scan says so.
		return store.EncodeIndexValue(c.Low)[0] == store.EncodeIndexValue(c.High)[0]
	}
	return c.Low != nil || c.High != nil
}

// rangeOf turns a range condition into index bounds; an open side stops at the end of the
// operand's type, since comparisons match only values of their operand's type.
func rangeOf(c query.Condition) store.KeyRange {
	var r store.KeyRange
	if c.Low != nil {
		r.Low, r.LowIncl = store.EncodeIndexValue(c.Low), c.LowIncl
	} else {
		r.Low, _ = store.TypeRange(c.High)
		r.LowIncl = true
	}
	if c.High != nil {
		r.High, r.HighIncl = store.EncodeIndexValue(c.High), c.HighIncl
	} else {
		_, r.High = store.TypeRange(c.Low)
	}
	return r
}

func idsOf(vals []any) [][]byte {
	var ids [][]byte
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if id, err := store.ParseObjectID(s); err == nil {
			ids = append(ids, id[:])
		}
	}
	return ids
}

// gather collects the ids of the entries of both kinds in the ranges, without duplicates,
// sorted.
func (e *exec) gather(field string, ranges []store.KeyRange) [][]byte {
	seen := map[store.ObjectID]bool{}
	var ids [][]byte
	add := func(_, id []byte) bool {
		oid := store.ObjectID(id)
		if !seen[oid] {
			seen[oid] = true
			ids = append(ids, oid[:])
		}
		return true
	}
	for _, r := range ranges {
		e.sn.IndexScan(e.coll, field, store.IndexWhole, r, false, add)
		e.sn.IndexScan(e.coll, field, store.IndexElements, r, false, add)
	}
	return ids
}

// fetch reads the documents of ids (any order, duplicates allowed); in _id order, stopping
// early, when the sort is by _id.
func (e *exec) fetch(ids [][]byte) error {
	slices.SortFunc(ids, bytes.Compare)
	ids = slices.CompactFunc(ids, bytes.Equal)
	sk := e.sortKey()
	byID := sk.Field == jsondoc.FieldID
	if byID && sk.Dir < 0 {
		slices.Reverse(ids)
	}
	for _, id := range ids {
		if byID && e.full() {
			e.plan.Stopped = true
			return nil
		}
		if err := e.consider(e.sn.Raw(e.coll, id)); err != nil {
			return err
		}
	}
	return nil
}

// ordered reads the documents of an indexed field in sort order (descending when reverse),
// restricted to r when it is not nil, and stops at the first new value once the page is full.
// With a range, documents whose value is not a scalar (arrays, and several values where the
// path fans out over arrays) sort as arrays, so their elements that fall in the range are
// read as one group at the arrays' place in the order.
func (e *exec) ordered(field string, r *store.KeyRange, reverse bool) error {
	var whole store.KeyRange
	if r != nil {
		whole = *r
	}
	var err error
	covered := e.covers(field)
	// Sorted ascending by field alone, a walk up the index meets the matches in the page's
	// order: by value, ties by id (PageOf's tie-break). Covered candidates are then kept as they
	// come, without a partial document each, until one breaks the order (a document whose
	// entry does not hold its value, or the arrays of a range), when they go back to matched.
	if covered && e.raw && !reverse && !e.req.Totals && len(e.req.Sort) == 1 &&
		e.req.Sort[0].Field == field && e.req.Sort[0].Dir > 0 && e.count() == 0 {
		e.inOrder, e.orderField, e.probe = true, field, make(store.Doc, 2)
		e.plan.InOrder = true
	}
	stream := func() bool {
		var cur []byte
		started := false
		stopped := false
		e.sn.IndexScan(e.coll, field, store.IndexWhole, whole, reverse, func(val, id []byte) bool {
			if !started || !bytes.Equal(val, cur) {
				if e.full() {
					stopped = true
					return false
				}
				cur, started = append(cur[:0], val...), true
			}
			if covered {
				if v, ok := store.DecodeIndexScalar(val); ok {
					err = e.considerCovered(field, v, id)
					return err == nil
				}
			}
			err = e.consider(e.sn.Raw(e.coll, id))
			return err == nil
		})
		return stopped
	}
	arrays := func() error {
		if e.full() {
			return nil
		}
		ids := e.gatherKind(field, *r)
		for _, id := range ids {
			if err := e.consider(e.sn.Raw(e.coll, id)); err != nil {
				return err
			}
		}
		return nil
	}
	if r == nil {
		e.plan.Stopped = stream()
		return err
	}
	// Arrays sort above every scalar type but booleans.
	arraysFirst := (r.Low[0] > store.EncodeIndexValue([]any{})[0]) != reverse
	if arraysFirst {
		if err := arrays(); err != nil {
			return err
		}
		e.plan.Stopped = stream()
		return err
	}
	e.plan.Stopped = stream()
	if err != nil {
		return err
	}
	if e.full() {
		e.plan.Stopped = true
		return nil
	}
	return arrays()
}

// gatherKind collects, without duplicates, the ids of the element entries in r.
func (e *exec) gatherKind(field string, r store.KeyRange) [][]byte {
	seen := map[store.ObjectID]bool{}
	var ids [][]byte
	e.sn.IndexScan(e.coll, field, store.IndexElements, r, false, func(_, id []byte) bool {
		oid := store.ObjectID(id)
		if !seen[oid] {
			seen[oid] = true
			ids = append(ids, oid[:])
		}
		return true
	})
	return ids
}
