package query

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"
)

func dateDocs(t *testing.T) []map[string]any {
	t.Helper()
	var docs []map[string]any
	src := `[
	 {"_id":"01","registered":"2023-01-15T10:30:00.000Z","n":1},
	 {"_id":"02","registered":"2023-11-02T23:05:09.000Z","n":2},
	 {"_id":"03","registered":"2024-01-20","n":4},
	 {"_id":"04","registered":1719792000000,"n":8},
	 {"_id":"05","registered":"not a date","n":16},
	 {"_id":"06","n":32}
	]`
	if err := json.Unmarshal([]byte(src), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestGroupByDateParts(t *testing.T) {
	tests := map[string]struct {
		h    string
		want string
	}{
		"$YEAR": {`{"$groupby":["$YEAR:registered"],"$aggregate":["SUM:n"]}`,
			`{"2023":{"SUM:n":3},"2024":{"SUM:n":12},"null":{"SUM:n":48}}`},
		"$MONTH is zero-padded": {`{"$groupby":["$MONTH:registered"],"$aggregate":["COUNT:n"]}`,
			`{"01":{"COUNT:n":2},"07":{"COUNT:n":1},"11":{"COUNT:n":1},"null":{"COUNT:n":2}}`},
		"$DAY": {`{"$groupby":["$DAY:registered"],"$aggregate":["SUM:n"]}`,
			`{"01":{"SUM:n":8},"02":{"SUM:n":2},"15":{"SUM:n":1},"20":{"SUM:n":4},"null":{"SUM:n":48}}`},
		"$HOUR in UTC": {`{"$groupby":["$HOUR:registered"],"$aggregate":["SUM:n"]}`,
			`{"00":{"SUM:n":12},"10":{"SUM:n":1},"23":{"SUM:n":2},"null":{"SUM:n":48}}`},
		"$QUARTER": {`{"$groupby":["$QUARTER:registered"],"$aggregate":["SUM:n"]}`,
			`{"1":{"SUM:n":5},"3":{"SUM:n":8},"4":{"SUM:n":2},"null":{"SUM:n":48}}`},
		"lower case part": {`{"$groupby":["$year:registered"],"$aggregate":["SUM:n"]}`,
			`{"2023":{"SUM:n":3},"2024":{"SUM:n":12},"null":{"SUM:n":48}}`},
		"$DATE with a moment format": {`{"$groupby":["$DATE.YYYY-MM:registered"],"$aggregate":["SUM:n"]}`,
			`{"2023-01":{"SUM:n":1},"2023-11":{"SUM:n":2},"2024-01":{"SUM:n":4},"2024-07":{"SUM:n":8},"null":{"SUM:n":48}}`},
		"$DATE.MMMM month names": {`{"$groupby":["$DATE.MMMM:registered"],"$aggregate":["SUM:n"]}`,
			`{"January":{"SUM:n":5},"July":{"SUM:n":8},"November":{"SUM:n":2},"null":{"SUM:n":48}}`},
		"$DATE with a bracketed literal": {`{"$groupby":["$DATE.[Q]Q YYYY:registered"],"$aggregate":["SUM:n"]}`,
			`{"Q1 2023":{"SUM:n":1},"Q1 2024":{"SUM:n":4},"Q3 2024":{"SUM:n":8},"Q4 2023":{"SUM:n":2},"null":{"SUM:n":48}}`},
		"two levels: year then month": {`{"$groupby":["$YEAR:registered","$MONTH:registered"],"$aggregate":["SUM:n"]}`,
			`{"2023":{"01":{"SUM:n":1},"11":{"SUM:n":2}},"2024":{"01":{"SUM:n":4},"07":{"SUM:n":8}},"null":{"null":{"SUM:n":48}}}`},
		"documents grouped by year": {`{"$groupby":["$YEAR:registered"],"$fields":{"n":1}}`,
			`{"2023":[{"_id":"01","n":1},{"_id":"02","n":2}],"2024":[{"_id":"03","n":4},{"_id":"04","n":8}],"null":[{"_id":"05","n":16},{"_id":"06","n":32}]}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(url.Values{"h": {tc.h}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, r.Result(dateDocs(t))); got != tc.want {
				t.Errorf("Result =\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

func TestGroupByDatePartErrors(t *testing.T) {
	for _, g := range []string{"$CENTURY:registered", "$YEAR", "$YEAR:", "$DATE.:registered", "$DATE." + string(make([]byte, 65)) + ":x"} {
		_, err := ParseRequest(url.Values{"groupby": {g}}, Options{})
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("groupby %q: error %v, want a *query.Error", g, err)
		}
	}
}
