package query

import (
	"strconv"
	"strings"
	"time"
)

// A group field may name a date part of a field instead of the field's value, as restdb.io's
// query hints do: "$YEAR:registered" groups by the year of registered, "$DATE.MMMM:registered"
// by its month name (a moment.js format string). Values that are not dates (ISO-8601 strings
// or epoch milliseconds) group under "null". Dates are taken in UTC.

// dateParts are the "$PART:" prefixes and how each renders a date.
var dateParts = map[string]func(time.Time) string{
	"YEAR":    func(t time.Time) string { return strconv.Itoa(t.Year()) },
	"QUARTER": func(t time.Time) string { return strconv.Itoa((int(t.Month())-1)/3 + 1) },
	"MONTH":   func(t time.Time) string { return pad2(int(t.Month())) },
	"WEEK":    func(t time.Time) string { _, w := t.ISOWeek(); return pad2(w) },
	"DAY":     func(t time.Time) string { return pad2(t.Day()) },
	"WEEKDAY": func(t time.Time) string { return strconv.Itoa(int(t.Weekday())) },
	"HOUR":    func(t time.Time) string { return pad2(t.Hour()) },
	"MINUTE":  func(t time.Time) string { return pad2(t.Minute()) },
	"SECOND":  func(t time.Time) string { return pad2(t.Second()) },
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// maxDateFormat bounds a $DATE format string.
const maxDateFormat = 64

// groupField is one parsed $groupby entry: the field's path and, for a date part, how to
// render the date.
type groupField struct {
	path []string
	date func(time.Time) string
}

// parseGroupField reads "field", "$PART:field" or "$DATE.<format>:field".
func parseGroupField(f string) (groupField, error) {
	if !strings.HasPrefix(f, "$") {
		return groupField{path: splitPath(f)}, nil
	}
	fn, field, ok := strings.Cut(f[1:], ":")
	if !ok || field == "" {
		return groupField{}, errorf("groupby", f, "a date group is \"$PART:field\", e.g. \"$YEAR:registered\"")
	}
	if format, ok := strings.CutPrefix(fn, "DATE."); ok {
		if format == "" || len(format) > maxDateFormat {
			return groupField{}, errorf("groupby", f, "$DATE needs a format of 1 to %d characters, e.g. \"$DATE.YYYY-MM:registered\"", maxDateFormat)
		}
		render := compileMomentFormat(format)
		return groupField{path: splitPath(field), date: render}, nil
	}
	render, ok := dateParts[strings.ToUpper(fn)]
	if !ok {
		return groupField{}, errorf("groupby", f, "unknown date part $%s (use $YEAR, $QUARTER, $MONTH, $WEEK, $DAY, $WEEKDAY, $HOUR, $MINUTE, $SECOND or $DATE.<format>)", fn)
	}
	return groupField{path: splitPath(field), date: render}, nil
}

// key names the group of d.
func (g groupField) key(d map[string]any) string {
	v := valueAt(d, g.path)
	if g.date == nil {
		return groupKey(v)
	}
	var t time.Time
	switch x := v.(type) {
	case string:
		var ok bool
		if t, ok = parseISO(x); !ok {
			return "null"
		}
	case float64:
		t = time.UnixMilli(int64(x))
	default:
		return "null"
	}
	return g.date(t.UTC())
}

// momentTokens are the moment.js format tokens understood, longest first within a letter.
var momentTokens = []struct {
	tok    string
	render func(time.Time) string
}{
	{"YYYY", func(t time.Time) string { return strconv.Itoa(t.Year()) }},
	{"YY", func(t time.Time) string { return pad2(t.Year() % 100) }},
	{"Q", dateParts["QUARTER"]},
	{"MMMM", func(t time.Time) string { return t.Month().String() }},
	{"MMM", func(t time.Time) string { return t.Month().String()[:3] }},
	{"MM", dateParts["MONTH"]},
	{"M", func(t time.Time) string { return strconv.Itoa(int(t.Month())) }},
	{"DDDD", func(t time.Time) string { return strconv.Itoa(t.YearDay()) }},
	{"DD", dateParts["DAY"]},
	{"D", func(t time.Time) string { return strconv.Itoa(t.Day()) }},
	{"dddd", func(t time.Time) string { return t.Weekday().String() }},
	{"ddd", func(t time.Time) string { return t.Weekday().String()[:3] }},
	{"d", dateParts["WEEKDAY"]},
	{"WW", dateParts["WEEK"]},
	{"W", func(t time.Time) string { _, w := t.ISOWeek(); return strconv.Itoa(w) }},
	{"HH", dateParts["HOUR"]},
	{"H", func(t time.Time) string { return strconv.Itoa(t.Hour()) }},
	{"mm", dateParts["MINUTE"]},
	{"m", func(t time.Time) string { return strconv.Itoa(t.Minute()) }},
	{"ss", dateParts["SECOND"]},
	{"s", func(t time.Time) string { return strconv.Itoa(t.Second()) }},
}

// compileMomentFormat turns a moment.js format string into a renderer: known tokens are
// replaced, text in [brackets] and every other character is kept as it is.
func compileMomentFormat(format string) func(time.Time) string {
	var parts []func(time.Time) string
	lit := func(s string) func(time.Time) string { return func(time.Time) string { return s } }
	for i := 0; i < len(format); {
		if format[i] == '[' {
			if end := strings.IndexByte(format[i:], ']'); end > 0 {
				parts = append(parts, lit(format[i+1:i+end]))
				i += end + 1
				continue
			}
		}
		matched := false
		for _, mt := range momentTokens {
			if strings.HasPrefix(format[i:], mt.tok) {
				parts = append(parts, mt.render)
				i += len(mt.tok)
				matched = true
				break
			}
		}
		if !matched {
			parts = append(parts, lit(format[i:i+1]))
			i++
		}
	}
	return func(t time.Time) string {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p(t))
		}
		return b.String()
	}
}

// checkGroupBy reports the first malformed group field.
func checkGroupBy(fields []string) error {
	for _, f := range fields {
		if _, err := parseGroupField(f); err != nil {
			return err
		}
	}
	return nil
}
