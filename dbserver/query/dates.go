package query

import (
	"strconv"
	"strings"
	"time"
)

// isoLayouts are the ISO-8601 forms accepted for dates, most common first. A missing zone
// means UTC.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseISO parses an ISO-8601 date or date-time. The cheap shape check keeps the common case of
// a non-date string from trying every layout.
func parseISO(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || s[0] < '0' || s[0] > '9' {
		return time.Time{}, false
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// FormatTime renders a time the way the API stores dates: ISO-8601 UTC with milliseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// parseDate turns the operand of {"$date": …} into a time: an ISO-8601 string, epoch
// milliseconds, or one of the macros relative to now.
func parseDate(field string, v any, now time.Time) (time.Time, error) {
	now = now.UTC()
	switch d := v.(type) {
	case float64:
		return time.UnixMilli(int64(d)).UTC(), nil
	case string:
		switch d {
		case "$now":
			return now, nil
		case "$currentDate":
			return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC), nil
		case "$currentMonth":
			return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), nil
		case "$currentYear":
			return time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC), nil
		}
		if strings.HasPrefix(d, "$moment.") {
			return parseMoment(field, d, now)
		}
		if t, ok := parseISO(d); ok {
			return t, nil
		}
		return time.Time{}, errorf(field, "$date", "%q is neither an ISO-8601 date nor a date macro", d)
	}
	return time.Time{}, errorf(field, "$date", "needs an ISO-8601 string or a date macro")
}

// parseMoment evaluates $moment.subtract.N.UNIT and $moment.add.N.UNIT.
func parseMoment(field, s string, now time.Time) (time.Time, error) {
	parts := strings.Split(s, ".")
	bad := errorf(field, "$date", "%q: want $moment.add.N.UNIT or $moment.subtract.N.UNIT", s)
	if len(parts) != 4 {
		return time.Time{}, bad
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 || n > 1_000_000 {
		return time.Time{}, bad
	}
	switch parts[1] {
	case "add":
	case "subtract":
		n = -n
	default:
		return time.Time{}, bad
	}
	switch strings.TrimSuffix(parts[3], "s") {
	case "second":
		return now.Add(time.Duration(n) * time.Second), nil
	case "minute":
		return now.Add(time.Duration(n) * time.Minute), nil
	case "hour":
		return now.Add(time.Duration(n) * time.Hour), nil
	case "day":
		return now.AddDate(0, 0, n), nil
	case "week":
		return now.AddDate(0, 0, 7*n), nil
	case "month":
		return now.AddDate(0, n, 0), nil
	case "year":
		return now.AddDate(n, 0, 0), nil
	}
	return time.Time{}, errorf(field, "$date", "%q: unknown unit %q", s, parts[3])
}

// dateOperand returns the $date operand of v if v is exactly {"$date": …}.
func dateOperand(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, false
	}
	d, ok := m["$date"]
	return d, ok
}
