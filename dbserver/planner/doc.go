// Package planner answers every read of documents from the store: collection queries
// (GET /rest/<collection>, Execute), reading as little as it can: through a secondary index
// when the query or its sort allows, in _id order otherwise, and stopping early once the page
// is known; and reads of one document by id (GET /rest/<collection>/<id>, Get), which answer
// from the stored JSON, decoding only _version and the fields the caller's access rule reads.
//
// # Plans
//
// Execute picks the first that applies:
//
//  1. IDs: an equality or $in on _id reads those documents directly.
//  2. IndexEq: an equality or $in on an indexed field reads the index entries of those values.
//  3. IndexOrder with a range: a range ($gt $gte $lt $lte $bt) on the indexed field the query
//     sorts by first walks that range in sort order.
//  4. IndexRange: a range on another indexed field reads the index entries in that range.
//  5. IndexOrder: a sort on an indexed field walks the whole index in sort order.
//  6. Scan: everything else walks the collection in _id order.
//
// Plans 1, 2 and 4 gather candidate ids; when the sort is by _id they fetch them in _id order.
// Plans that read in the sort's order (3, 5, and 6 or the gathered ids when the sort is by
// _id) stop once skip+max documents have matched and the next document sorts strictly later,
// unless the answer needs every match (totals, groupby, aggregate).
//
// Every candidate is still tested by the whole query, so an index changes how much is read,
// never the answer. Candidates are matched on a partial decode of only the fields the query
// (and Options.Allow) reads (jsondoc.DecodeFields); a full-text filter, or an Allow that names
// no fields, decodes them whole. When the answer holds documents (query.Request.Paged: a page,
// projected by $fields or not, or groupby alone), the matches are kept as their stored bytes
// with the fields they are sorted on (query.Request.AnswerFields), sorted and paged
// (query.Request.PageOf), and the page is written from the stored JSON itself: copied without
// the hidden system fields (jsondoc.AppendObjectWithout), or, under $fields, decoded one document
// at a time and presented (query.Request.Present); groupby files the page's documents under
// their keys (query.Request.GroupKeys) and writes the groups in sorted order. Aggregate answers
// fold each match, partially decoded, into a query.Aggregator and never keep the documents.
// All of these give the JSON values query.Request.Result gives; a copied document keeps the
// stored form of its strings, where <, > and & are escaped.
//
// # Damaged documents
//
// Every document written to a page, or folded into an aggregate, is checked first
// (jsondoc.CheckDoc: exactly what the decoder accepts, without building anything), all of a
// page's before its first byte; one that fails is a *store.CorruptError naming it, before
// Options.Stream is called. A document tested on a few fields and not returned is not checked
// beyond them.
//
// # Cost
//
// Measured on the 2-core development machine with 500-byte documents (make bench prints the
// same): the benchmark's indexed range query (n > X, sort n, max 20) examines 20 documents
// whatever the collection's size, about 30µs in process and a p50 of 0.2-0.3ms over HTTP at
// 10k, 100k and 1M documents; an unindexed query that must read all of 10k documents takes
// about 5ms, against 15ms decoding every document with the store's decoder and 56ms with
// json.Unmarshal.
//
// # Memory
//
// A page written from stored JSON that passes StreamChunk goes to Options.Stream in chunks,
// inside the read transaction, so a caller never holds it whole; a scan for a page sorted by
// _id keeps only the stored bytes of its matches, and one without conditions decodes nothing.
// That holds for every answer of documents (filter, $fields and groupby included). Aggregate
// answers hold running values per group, at most Options.MaxGroups groups.
//
// # Caveats
//
// Conditions on dates ({"$date": …}) and operands longer than store.MaxIndexValue bytes are
// not served by an index (they scan or use another condition). An index is used for one
// condition only; the others filter. Plan 4 may read more than a scan in sort order would
// when the range is wide and max is small: the planner has no statistics to tell.
package planner
