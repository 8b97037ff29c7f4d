package httpapi

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/restkube/restkube/dbserver/store"
)

// BenchmarkChildList measures GET /rest/parents/ID/kids over 500 parents of 10 children each
// (5000 children), without and with an index on _parent_id.
func BenchmarkChildList(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		b.Run(fmt.Sprintf("indexed=%v", indexed), func(b *testing.B) {
			st := benchStore(b)
			parents := make([]store.Doc, 500)
			for i := range parents {
				parents[i] = store.Doc{"n": float64(i)}
			}
			ps, err := st.Insert("parents", parents, "api")
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, len(ps))
			for i, p := range ps {
				ids[i] = p["_id"].(string)
				kids := make([]store.Doc, 10)
				for j := range kids {
					kids[j] = store.Doc{"k": float64(j)}
				}
				if _, err := st.InsertChildren("kids", kids, "api", store.Parent{ID: ids[i], Def: "parents", Field: "kids"}); err != nil {
					b.Fatal(err)
				}
			}
			if indexed {
				if err := st.SetIndexes(map[string][]string{"kids": {"_parent_id"}}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			benchGET(b, st, func() string { return "/rest/parents/" + ids[int(n.Add(1))%len(ids)] + "/kids" })
		})
	}
}
