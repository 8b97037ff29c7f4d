package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/restkube/restkube/dbserver/store"
)

// TestCheckFindsAndRepairsAnUndecodableDocument: `dbserver check` reports a document nested past
// the decoder's limit (as an older version could store one) by id, exits 1, and with --repair
// removes it, leaving the rest.
func TestCheckFindsAndRepairsAnUndecodableDocument(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DataFile)
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := st.Insert("deep", []store.Doc{{"n": 1.0}, {"n": 2.0}}, "api")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	badID, _ := hex.DecodeString("ffffffffffffffffffffff01")
	raw := `{"_id":"ffffffffffffffffffffff01","_version":0,"x":` + strings.Repeat(`{"x":`, 20000) + "1" + strings.Repeat("}", 20001)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("collections")).Bucket([]byte("deep")).Put(badID, []byte(raw))
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--data-dir", dir}, &out, &errOut); code != 1 {
		t.Fatalf("check exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "deep/ffffffffffffffffffffff01: does not decode") {
		t.Fatalf("check did not name the document:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"check", "--data-dir", dir, "--repair"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "ffffffffffffffffffffff01") || !strings.Contains(out.String(), "repaired") {
		t.Fatalf("check --repair exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"check", "--data-dir", dir}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "2 documents") {
		t.Fatalf("after the repair: exit %d\n%s", code, out.String())
	}
	st, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Get("deep", docs[1]["_id"].(string)); err != nil {
		t.Fatalf("a good document is gone: %v", err)
	}
}
