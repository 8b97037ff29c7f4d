package query

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

func TestProjectionThroughArrays(t *testing.T) {
	doc := obj(t, `{"_id":"1","items":[{"sku":"a","qty":1,"x":0},"loose",{"sku":"b","qty":2}],"o":{"p":{"q":1,"r":2}}}`)
	tests := map[string]struct {
		fields string
		want   string
	}{
		"include one path in array":  {`{"items.sku":1}`, `{"_id":"1","items":[{"sku":"a"},{"sku":"b"}]}`},
		"include two paths in array": {`{"items.sku":1,"items.qty":1}`, `{"_id":"1","items":[{"qty":1,"sku":"a"},{"qty":2,"sku":"b"}]}`},
		"include deep object path":   {`{"o.p.r":1,"_id":0}`, `{"o":{"p":{"r":2}}}`},
		"include missing path":       {`{"zz.y":1}`, `{"_id":"1"}`},
		"exclude path in array":      {`{"items.x":0,"items.qty":0,"o":0}`, `{"_id":"1","items":[{"sku":"a"},"loose",{"sku":"b"}]}`},
		"exclude deep object path":   {`{"o.p.q":0,"items":0}`, `{"_id":"1","o":{"p":{"r":2}}}`},
		"exclude through a scalar":   {`{"_id.x":0,"items":0,"o":0}`, `{"_id":"1"}`},
		"booleans select too":        {`{"o":true,"_id":false}`, `{"o":{"p":{"q":1,"r":2}}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(url.Values{"h": {`{"$fields":` + tc.fields + `}`}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			before := toJSON(t, doc)
			out := r.Result([]map[string]any{doc}).([]map[string]any)
			if got := toJSON(t, out[0]); got != tc.want {
				t.Errorf("projected = %s, want %s", got, tc.want)
			}
			if toJSON(t, doc) != before {
				t.Error("projection modified the stored document")
			}
		})
	}
}

func TestDateForms(t *testing.T) {
	tests := map[string]struct {
		operand string
		want    time.Time
	}{
		"RFC 3339 with millis": {`"2026-01-02T03:04:05.678Z"`, time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)},
		"offset without colon": {`"2026-01-02T03:04:05+0100"`, time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)},
		"no zone is UTC":       {`"2026-01-02T03:04:05"`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		"minutes only":         {`"2026-01-02T03:04"`, time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)},
		"space separator":      {`"2026-01-02 03:04:05"`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		"date only":            {`"2026-01-02"`, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		"epoch millis":         {`1767225600000`, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"$now":                 {`"$now"`, testNow},
		"$currentDate":         {`"$currentDate"`, time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC)},
		"$currentMonth":        {`"$currentMonth"`, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		"$currentYear":         {`"$currentYear"`, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"add seconds":          {`"$moment.add.30.seconds"`, testNow.Add(30 * time.Second)},
		"subtract minutes":     {`"$moment.subtract.90.minutes"`, testNow.Add(-90 * time.Minute)},
		"add hours":            {`"$moment.add.2.hours"`, testNow.Add(2 * time.Hour)},
		"subtract days":        {`"$moment.subtract.13.days"`, time.Date(2026, 2, 28, 15, 30, 0, 0, time.UTC)},
		"add weeks":            {`"$moment.add.1.weeks"`, time.Date(2026, 3, 20, 15, 30, 0, 0, time.UTC)},
		"subtract months":      {`"$moment.subtract.3.months"`, time.Date(2025, 12, 13, 15, 30, 0, 0, time.UTC)},
		"add years singular":   {`"$moment.add.1.year"`, time.Date(2027, 3, 13, 15, 30, 0, 0, time.UTC)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.operand), &v); err != nil {
				t.Fatal(err)
			}
			got, err := parseDate("f", v, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("parseDate(%s) = %v, want %v", tc.operand, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"$moment.add.1", "$moment.grow.1.days", "$moment.add.-1.days", "2026-13-01", "20260101"} {
		if _, err := parseDate("f", bad, testNow); err == nil {
			t.Errorf("parseDate(%q) accepted", bad)
		}
	}
}

func TestHintIntegerForms(t *testing.T) {
	tests := map[string]struct {
		h         string
		skip, max int
	}{
		"numbers":        {`{"$skip":3,"$max":4}`, 3, 4},
		"integral float": {`{"$max":5.0}`, 0, 5},
		"exponent":       {`{"$skip":1e1,"$max":1E2}`, 10, 100},
		"orderby words":  {`{"$orderby":{"a":"desc","b":"asc"},"$max":1}`, 0, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParseRequest(url.Values{"h": {tc.h}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Skip != tc.skip || r.Max != tc.max {
				t.Errorf("skip/max = %d/%d, want %d/%d", r.Skip, r.Max, tc.skip, tc.max)
			}
		})
	}
	for _, bad := range []string{`{"$max":"1"}`, `{"$skip":"3"}`, `{"$max":"x"}`, `{"$max":true}`, `{"$max":1e300}`, `{"$orderby":{"a":"sideways"}}`, `{"$orderby":{"a":1,}}`, `{"$orderby":"a"}`} {
		if _, err := ParseRequest(url.Values{"h": {bad}}, Options{}); err == nil {
			t.Errorf("h=%s accepted", bad)
		}
	}
}

func TestNumberKinds(t *testing.T) {
	tests := map[string]struct {
		v    any
		want float64
	}{
		"float64":     {2.5, 2.5},
		"float32":     {float32(0.5), 0.5},
		"int":         {3, 3},
		"int64":       {int64(-4), -4},
		"int32":       {int32(5), 5},
		"uint":        {uint(6), 6},
		"uint64":      {uint64(7), 7},
		"uint32":      {uint32(8), 8},
		"json.Number": {json.Number("9.5"), 9.5},
	}
	for name, tc := range tests {
		got, ok := Number(tc.v)
		if !ok || got != tc.want {
			t.Errorf("%s: number = %v, %v; want %v", name, got, ok, tc.want)
		}
		if rank(tc.v) != rankNumber {
			t.Errorf("%s: not ranked as a number", name)
		}
	}
	if _, ok := Number(json.Number("x")); ok {
		t.Error("a bad json.Number converted")
	}
	if _, ok := Number("1"); ok {
		t.Error("a string converted to a number")
	}
}
