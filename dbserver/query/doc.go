// Package query implements restdb.io's query language and update operators for the dbserver,
// as restdb.io documents them, with the rules its docs leave open stated below (Semantics) and
// in the README. It is pure: it knows
// nothing of storage or HTTP, and works on documents decoded by encoding/json into
// map[string]any (numbers float64).
//
// # Basics
//
// Parse turns a q parameter into a Matcher once; Match then tests documents without further
// allocation-heavy work, so a scan of a collection parses nothing per document. ParseRequest
// reads every parameter of GET /rest/<collection> (q, h, filter, sort, dir, skip, max, totals,
// metafields, groupby, aggregate) into a Request; Request.Matches tests one stored document,
// and Request.Result sorts, pages, projects and shapes the documents it is given so that
// encoding/json renders restdb.io's shapes exactly. Result is the simple whole: the dbserver's
// planner hands it only the matches it could not avoid holding, and answers most queries with
// the parts in answer.go instead (below), without holding every match. ApplyUpdate applies
// a PUT/PATCH body ($inc, $push, $pull, $addToSet, $set, $unset and plain fields).
//
// answer.go gives a planner the parts of Result, to answer without holding every match: the
// fields an answer reads (AnswerFields), PageOf to pick a page, Present to show one document,
// GroupKeys for groupby, MatchesFilterRaw to run the full-text filter on stored JSON, and an
// Aggregator that folds matches into running values per group (Result uses it too), bounded by
// a number of groups.
//
// Every client mistake (malformed JSON, an unknown operator or hint, a bad skip or max, $inc
// of a non-number) is an *Error naming the field and operator at fault; the HTTP layer answers
// it with 400.
//
// # Semantics
//
// Matching follows MongoDB where restdb.io's docs do not decide otherwise:
//   - a missing field counts as null, so {"f":null} matches it, and negations ($ne, $nin,
//     $not) match it unless their operand is or lists null; $exists tells null and missing apart;
//   - a condition on an array field matches if the array itself or any element matches, and dot
//     paths fan out over arrays of objects ("items.sku") or index them ("tags.0");
//   - values of different JSON types are never equal, and comparison operators only match
//     values of the operand's type (type bracketing), while sorting orders across types:
//     null < numbers < strings < objects < arrays < booleans (see Compare);
//   - only {"$date": …} is a date; it matches ISO-8601 string values, compared by time. Its
//     macros ($now, $currentDate, $currentMonth, $currentYear, $moment.add/subtract.N.UNIT) are
//     evaluated once, at parse time, against the injected clock.
//
// # Caveats
//
//   - $regex uses Go's RE2 syntax: linear time, but without PCRE's backreferences and
//     lookaround; such patterns are an *Error. $options accepts i, m and s.
//   - Objects compare by their keys in sorted order, since a Go map keeps no key order.
//   - Sorting compares whole values: an array sorts as an array, not by its smallest element
//     as MongoDB does.
//   - Result works on every match in memory (the planner does not: see answer.go).
//     Matcher.Conditions exposes the top-level equality and range conditions so a store can
//     narrow the scan through an index first.
//   - ApplyUpdate stores {"$date": …} values as ISO-8601 strings; $pull removes elements equal
//     to its value (no query conditions), and $push/$addToSet accept MongoDB's $each.
package query
