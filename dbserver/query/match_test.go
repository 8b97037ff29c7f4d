package query

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	doc := `{
		"_id": "5f0000000000000000000001",
		"name": "Joe", "age": 17, "score": 9.5, "active": true, "nothing": null,
		"nick": "9",
		"tags": ["red", "blue"],
		"nums": [1, 5, 12],
		"matrix": [[1, 2], [3]],
		"address": {"city": "Oslo", "zip": "0150", "geo": {"lat": 59.9}},
		"items": [{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 7}],
		"due": "2026-03-10T12:00:00.000Z",
		"born": "2026-01-31",
		"meta": {"k": 1}
	}`
	tests := map[string]struct {
		q    string
		want bool
	}{
		// Equality and the array rule.
		"empty query matches all":           {`{}`, true},
		"string equality":                   {`{"name":"Joe"}`, true},
		"string equality is case sensitive": {`{"name":"joe"}`, false},
		"two fields are ANDed":              {`{"name":"Joe","age":17}`, true},
		"one field failing fails the AND":   {`{"name":"Joe","age":18}`, false},
		"number equality":                   {`{"age":17}`, true},
		"bool equality":                     {`{"active":true}`, true},
		"array element equality":            {`{"tags":"blue"}`, true},
		"whole array equality":              {`{"tags":["red","blue"]}`, true},
		"array order matters":               {`{"tags":["blue","red"]}`, false},
		"nested array element equality":     {`{"matrix":[3]}`, true},
		"object equality":                   {`{"meta":{"k":1}}`, true},
		"object equality is exact":          {`{"address":{"city":"Oslo"}}`, false},
		"$eq operator":                      {`{"age":{"$eq":17}}`, true},
		// Different JSON types never equal.
		"number never equals string":    {`{"age":"17"}`, false},
		"string never equals number":    {`{"nick":9}`, false},
		"true never equals 1":           {`{"active":1}`, false},
		"null equality matches null":    {`{"nothing":null}`, true},
		"null equality matches missing": {`{"ghost":null}`, true},
		"null equality skips values":    {`{"name":null}`, false},
		"missing never equals 0":        {`{"ghost":0}`, false},
		// Comparisons and type bracketing.
		"$gt number":      {`{"age":{"$gt":16}}`, true},
		"$gt equal fails": {`{"age":{"$gt":17}}`, false},
		"$gte equal":      {`{"age":{"$gte":17}}`, true},
		"$lt number":      {`{"age":{"$lt":18}}`, true},
		"$lte number":     {`{"age":{"$lte":16}}`, false},
		"$gt on a string field never matches number": {`{"nick":{"$gt":5}}`, false},
		"$lt string operand skips numbers":           {`{"age":{"$lt":"zzz"}}`, false},
		"$gt string":                                 {`{"name":{"$gt":"Ann"}}`, true},
		"$gt on missing fails":                       {`{"ghost":{"$gt":0}}`, false},
		"$lt on missing fails":                       {`{"ghost":{"$lt":0}}`, false},
		"$gte null matches missing":                  {`{"ghost":{"$gte":null}}`, true},
		"$gt null matches nothing":                   {`{"nothing":{"$gt":null}}`, false},
		"$gt true bool":                              {`{"active":{"$gt":false}}`, true},
		"range on one field":                         {`{"age":{"$gt":10,"$lt":20}}`, true},
		"range excludes":                             {`{"age":{"$gt":10,"$lt":15}}`, false},
		"array any element $gt":                      {`{"nums":{"$gt":10}}`, true},
		"array all elements small":                   {`{"nums":{"$gt":12}}`, false},
		"array range may use two elements":           {`{"nums":{"$gt":6,"$lt":2}}`, true},
		"$bt inclusive low":                          {`{"age":{"$bt":[17,20]}}`, true},
		"$bt inclusive high":                         {`{"age":{"$bt":[10,17]}}`, true},
		"$bt outside":                                {`{"age":{"$bt":[18,20]}}`, false},
		"$bt one element must fit":                   {`{"nums":{"$bt":[6,11]}}`, false},
		"$bt array element":                          {`{"nums":{"$bt":[4,6]}}`, true},
		"$bt strings":                                {`{"name":{"$bt":["A","K"]}}`, true},
		"$bt type bracketing":                        {`{"nick":{"$bt":[0,100]}}`, false},
		// $ne, $in, $nin, missing.
		"$ne different":                   {`{"age":{"$ne":18}}`, true},
		"$ne same":                        {`{"age":{"$ne":17}}`, false},
		"$ne other type":                  {`{"age":{"$ne":"17"}}`, true},
		"$ne matches missing":             {`{"ghost":{"$ne":1}}`, true},
		"$ne null excludes missing":       {`{"ghost":{"$ne":null}}`, false},
		"$ne null excludes null":          {`{"nothing":{"$ne":null}}`, false},
		"$ne null keeps values":           {`{"age":{"$ne":null}}`, true},
		"$ne on array element":            {`{"tags":{"$ne":"red"}}`, false},
		"$in hit":                         {`{"age":{"$in":[1,17]}}`, true},
		"$in miss":                        {`{"age":{"$in":[1,"17"]}}`, false},
		"$in array field any element":     {`{"tags":{"$in":["green","blue"]}}`, true},
		"$in null matches missing":        {`{"ghost":{"$in":[null]}}`, true},
		"$in empty list":                  {`{"age":{"$in":[]}}`, false},
		"$nin miss":                       {`{"age":{"$nin":[1,2]}}`, true},
		"$nin hit":                        {`{"tags":{"$nin":["red"]}}`, false},
		"$nin matches missing":            {`{"ghost":{"$nin":[1]}}`, true},
		"$nin listing null skips missing": {`{"ghost":{"$nin":[null]}}`, false},
		// $exists.
		"$exists true":             {`{"age":{"$exists":true}}`, true},
		"$exists true on null":     {`{"nothing":{"$exists":true}}`, true},
		"$exists true on missing":  {`{"ghost":{"$exists":true}}`, false},
		"$exists false on missing": {`{"ghost":{"$exists":false}}`, true},
		"$exists false on present": {`{"age":{"$exists":false}}`, false},
		"$exists nested":           {`{"address.geo.lat":{"$exists":true}}`, true},
		"$exists past array end":   {`{"tags.5":{"$exists":true}}`, false},
		// $regex.
		"$regex":                  {`{"name":{"$regex":"^J"}}`, true},
		"$regex case sensitive":   {`{"name":{"$regex":"^j"}}`, false},
		"$regex with $options i":  {`{"name":{"$regex":"^j","$options":"i"}}`, true},
		"$regex on array element": {`{"tags":{"$regex":"^bl"}}`, true},
		"$regex skips numbers":    {`{"age":{"$regex":"17"}}`, false},
		// $not, $or, $and, $nor.
		"$not operator":        {`{"age":{"$not":{"$gt":20}}}`, true},
		"$not operator false":  {`{"age":{"$not":{"$gt":10}}}`, false},
		"$not matches missing": {`{"ghost":{"$not":{"$gt":1}}}`, true},
		"$not regex":           {`{"name":{"$not":{"$regex":"^A"}}}`, true},
		"$or one branch":       {`{"$or":[{"age":1},{"name":"Joe"}]}`, true},
		"$or no branch":        {`{"$or":[{"age":1},{"name":"Ann"}]}`, false},
		"$and all":             {`{"$and":[{"age":17},{"name":"Joe"}]}`, true},
		"$and one false":       {`{"$and":[{"age":17},{"name":"Ann"}]}`, false},
		"$or inside $and":      {`{"$and":[{"$or":[{"age":1},{"age":17}]},{"active":true}]}`, true},
		"$nor":                 {`{"$nor":[{"age":1},{"name":"Ann"}]}`, true},
		"top-level $not":       {`{"$not":{"age":17}}`, false},
		// Dot paths.
		"dot path into object":                {`{"address.city":"Oslo"}`, true},
		"deep dot path":                       {`{"address.geo.lat":{"$gt":59}}`, true},
		"dot path string stays string":        {`{"address.zip":"0150"}`, true},
		"dot path missing parent":             {`{"nowhere.city":null}`, true},
		"dot path through scalar":             {`{"name.first":"J"}`, false},
		"dot path into array of objects":      {`{"items.sku":"b2"}`, true},
		"dot path array no element":           {`{"items.sku":"zz"}`, false},
		"dot path array comparison":           {`{"items.qty":{"$gt":5}}`, true},
		"array index":                         {`{"tags.0":"red"}`, true},
		"array index other element":           {`{"tags.0":"blue"}`, false},
		"array index into objects":            {`{"items.1.sku":"b2"}`, true},
		"array index out of range is missing": {`{"tags.9":null}`, true},
		// $elemMatch.
		"$elemMatch document form":        {`{"items":{"$elemMatch":{"sku":"b2","qty":{"$gt":5}}}}`, true},
		"$elemMatch needs one element":    {`{"items":{"$elemMatch":{"sku":"a1","qty":{"$gt":5}}}}`, false},
		"without $elemMatch elements mix": {`{"items.sku":"a1","items.qty":{"$gt":5}}`, true},
		"$elemMatch value form":           {`{"nums":{"$elemMatch":{"$gt":4,"$lt":6}}}`, true},
		"$elemMatch value form none":      {`{"nums":{"$elemMatch":{"$gt":6,"$lt":10}}}`, false},
		"$elemMatch on non-array":         {`{"age":{"$elemMatch":{"$gt":1}}}`, false},
		"$elemMatch with $or":             {`{"items":{"$elemMatch":{"$or":[{"sku":"zz"},{"qty":2}]}}}`, true},
		"$size":                           {`{"tags":{"$size":2}}`, true},
		// Dates.
		"$date equality by time":        {`{"due":{"$date":"2026-03-10T13:00:00+01:00"}}`, true},
		"$date date-only value":         {`{"born":{"$date":"2026-01-31T00:00:00Z"}}`, true},
		"$date $gt":                     {`{"due":{"$gt":{"$date":"2026-03-01"}}}`, true},
		"$date $lt":                     {`{"due":{"$lt":{"$date":"2026-03-01"}}}`, false},
		"$date $gte $now":               {`{"due":{"$gte":{"$date":"$now"}}}`, false},
		"$date $lt $now":                {`{"due":{"$lt":{"$date":"$now"}}}`, true},
		"$date $currentDate":            {`{"due":{"$lt":{"$date":"$currentDate"}}}`, true},
		"$date $currentMonth":           {`{"due":{"$gte":{"$date":"$currentMonth"}}}`, true},
		"$date $currentYear":            {`{"born":{"$gte":{"$date":"$currentYear"}}}`, true},
		"$date moment subtract days":    {`{"due":{"$gt":{"$date":"$moment.subtract.5.days"}}}`, true},
		"$date moment subtract 2 days":  {`{"due":{"$gt":{"$date":"$moment.subtract.2.days"}}}`, false},
		"$date moment add weeks":        {`{"due":{"$lt":{"$date":"$moment.add.1.weeks"}}}`, true},
		"$date moment subtract months":  {`{"born":{"$gt":{"$date":"$moment.subtract.2.months"}}}`, true},
		"$date moment subtract hours":   {`{"due":{"$gt":{"$date":"$moment.subtract.100.hours"}}}`, true},
		"$date does not match non-date": {`{"name":{"$gt":{"$date":"2000-01-01"}}}`, false},
		"$date does not match numbers":  {`{"age":{"$gt":{"$date":"1970-01-01"}}}`, false},
		"$date $bt":                     {`{"due":{"$bt":[{"$date":"2026-03-10"},{"$date":"2026-03-11"}]}}`, true},
		"$date $in":                     {`{"born":{"$in":[{"$date":"2026-01-31T00:00:00.000Z"}]}}`, true},
		"$date $ne":                     {`{"born":{"$ne":{"$date":"2026-01-31"}}}`, false},
		"plain string is a string":      {`{"due":"2026-03-10T12:00:00Z"}`, false},
		"bare macro is a string":        {`{"due":{"$gt":"$now"}}`, true},
	}
	d := obj(t, doc)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse([]byte(tc.q), testNow)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.q, err)
			}
			if got := m.Match(d); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestMatchAllForEmptyQuery(t *testing.T) {
	for _, q := range []string{"", "  ", "null", "{}"} {
		m, err := Parse([]byte(q), testNow)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if !m.Match(map[string]any{}) || !m.Match(map[string]any{"a": 1.0}) {
			t.Errorf("Parse(%q) does not match everything", q)
		}
	}
	var nilMatcher *Matcher
	if !nilMatcher.Match(map[string]any{}) {
		t.Error("a nil Matcher should match everything")
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		q             string
		field, op     string
		msgContaining string
	}{
		"malformed JSON":              {`{"a":`, "q", "", "malformed"},
		"trailing garbage":            {`{"a":1} x`, "q", "", "malformed"},
		"not an object":               {`[1,2]`, "q", "", "JSON object"},
		"string query":                {`"a"`, "q", "", "JSON object"},
		"unknown field operator":      {`{"age":{"$foo":1}}`, "age", "$foo", "unknown operator"},
		"unknown top-level operator":  {`{"$where":"1"}`, "", "$where", "unknown operator"},
		"operators mixed with fields": {`{"age":{"$gt":1,"b":2}}`, "age", "", "mixed"},
		"$or not an array":            {`{"$or":{"a":1}}`, "", "$or", "array"},
		"$or empty":                   {`{"$or":[]}`, "", "$or", "non-empty"},
		"$and element not an object":  {`{"$and":[1]}`, "", "$and", "query object"},
		"$in not an array":            {`{"a":{"$in":1}}`, "a", "$in", "array"},
		"$nin not an array":           {`{"a":{"$nin":"x"}}`, "a", "$nin", "array"},
		"$bt one value":               {`{"a":{"$bt":[1]}}`, "a", "$bt", "[low, high]"},
		"$exists not bool":            {`{"a":{"$exists":"yes"}}`, "a", "$exists", "true or false"},
		"$regex not a string":         {`{"a":{"$regex":1}}`, "a", "$regex", "string"},
		"$regex invalid":              {`{"a":{"$regex":"("}}`, "a", "$regex", "invalid pattern"},
		"$regex lookahead":            {`{"a":{"$regex":"(?=x)"}}`, "a", "$regex", "invalid pattern"},
		"$options alone":              {`{"a":{"$options":"i"}}`, "a", "$options", "beside $regex"},
		"$options unknown flag":       {`{"a":{"$regex":"x","$options":"g"}}`, "a", "$options", "unsupported"},
		"$elemMatch not an object":    {`{"a":{"$elemMatch":1}}`, "a", "$elemMatch", "object"},
		"$elemMatch unknown operator": {`{"a":{"$elemMatch":{"$bad":1}}}`, "a", "$bad", "unknown operator"},
		"nested unknown operator":     {`{"$or":[{"b":{"$nope":1}}]}`, "b", "$nope", "unknown operator"},
		"$date bad string":            {`{"a":{"$date":"yesterday"}}`, "a", "$date", "ISO-8601"},
		"$date bad macro unit":        {`{"a":{"$gt":{"$date":"$moment.add.1.fortnights"}}}`, "a", "$date", "unit"},
		"$date bad macro form":        {`{"a":{"$date":"$moment.add.x.days"}}`, "a", "$date", "$moment"},
		"$date bad type":              {`{"a":{"$date":true}}`, "a", "$date", "ISO-8601"},
		"empty path segment":          {`{"a..b":1}`, "a..b", "", "empty"},
		"$size negative":              {`{"a":{"$size":-1}}`, "a", "$size", "integer"},
		"$not bad operator":           {`{"a":{"$not":{"$zz":1}}}`, "a", "$zz", "unknown"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.q), testNow)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%s) error = %v, want *Error", tc.q, err)
			}
			if qe.Field != tc.field || qe.Op != tc.op {
				t.Errorf("field/op = %q/%q, want %q/%q", qe.Field, qe.Op, tc.field, tc.op)
			}
			if !strings.Contains(qe.Error(), tc.msgContaining) {
				t.Errorf("message %q lacks %q", qe.Error(), tc.msgContaining)
			}
			if tc.op != "" && !strings.Contains(qe.Error(), tc.op) {
				t.Errorf("message %q does not name the operator %s", qe.Error(), tc.op)
			}
		})
	}
}

func TestParseRejectsDeepNesting(t *testing.T) {
	q := strings.Repeat(`{"$or":[`, 100) + `{}` + strings.Repeat(`]}`, 100)
	if _, err := Parse([]byte(q), testNow); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("Parse(deep) error = %v, want a nesting error", err)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := map[string]struct {
		err  Error
		want string
	}{
		"op and field": {Error{Field: "age", Op: "$gt", Message: "bad"}, `$gt on field "age": bad`},
		"op only":      {Error{Op: "$or", Message: "bad"}, `$or: bad`},
		"field only":   {Error{Field: "max", Message: "bad"}, `field "max": bad`},
		"neither":      {Error{Message: "bad"}, `bad`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	tests := map[string]struct {
		q    string
		want string
	}{
		"equality":            {`{"a":1}`, `[{"Field":"a","Eq":[1],"Low":null,"High":null,"LowIncl":false,"HighIncl":false}]`},
		"$in":                 {`{"a":{"$in":["x","y"]}}`, `[{"Field":"a","Eq":["x","y"],"Low":null,"High":null,"LowIncl":false,"HighIncl":false}]`},
		"$gte":                {`{"a":{"$gte":3}}`, `[{"Field":"a","Eq":null,"Low":3,"High":null,"LowIncl":true,"HighIncl":false}]`},
		"$bt":                 {`{"a":{"$bt":[1,2]}}`, `[{"Field":"a","Eq":null,"Low":1,"High":2,"LowIncl":true,"HighIncl":true}]`},
		"two bounds keep one": {`{"a":{"$gt":1,"$lt":5}}`, `[{"Field":"a","Eq":null,"Low":1,"High":null,"LowIncl":false,"HighIncl":false}]`},
		"eq preferred":        {`{"a":{"$eq":2,"$lt":5}}`, `[{"Field":"a","Eq":[2],"Low":null,"High":null,"LowIncl":false,"HighIncl":false}]`},
		"null not indexable":  {`{"a":null}`, `null`},
		"$ne not indexable":   {`{"a":{"$ne":1}}`, `null`},
		"$or not used":        {`{"$or":[{"a":1},{"b":2}]}`, `null`},
		"dot path not used":   {`{"a.b":1}`, `null`},
		"several fields":      {`{"a":"x","b":{"$lt":2},"c":{"$exists":true}}`, `[{"Field":"a","Eq":["x"],"Low":null,"High":null,"LowIncl":false,"HighIncl":false},{"Field":"b","Eq":null,"Low":null,"High":2,"LowIncl":false,"HighIncl":false}]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse([]byte(tc.q), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, m.Conditions()); got != tc.want {
				t.Errorf("Conditions(%s) =\n %s\nwant\n %s", tc.q, got, tc.want)
			}
		})
	}
	m, err := Parse([]byte(`{"d":{"$gt":{"$date":"2026-01-01"}}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Conditions()
	if len(c) != 1 || c[0].Low == nil {
		t.Fatalf("date condition = %+v", c)
	}
	if _, ok := c[0].Low.(interface{ IsZero() bool }); !ok {
		t.Errorf("date bound is %T, want time.Time", c[0].Low)
	}
}

func TestMatchesAllOnlyWithoutConditions(t *testing.T) {
	for q, want := range map[string]bool{``: true, `{}`: true, `{"a":1}`: false, `{"$or":[{"a":1}]}`: false, `{"$and":[{}]}`: false} {
		m, err := Parse([]byte(q), testNow)
		if err != nil {
			t.Fatalf("Parse(%s): %v", q, err)
		}
		if got := m.MatchesAll(); got != want {
			t.Errorf("MatchesAll(%s) = %v, want %v", q, got, want)
		}
	}
}
