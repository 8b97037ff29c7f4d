package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as the floor server child, as the bench binary does.
func TestMain(m *testing.M) {
	if maybeRunRole() {
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness with tiny counts and checks that every measurement is in
// the table with a non-zero rate.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dbserver")
	}
	cfg := SmokeConfig()
	cfg.WorkDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := Run(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())

	want := []struct {
		section, name string
		conc          int
	}{
		{"bbolt", "put, one Update", 1},
		{"bbolt", "put, db.Batch", 16},
		{"bbolt", "store.Insert", 16},
		{"engine", "unindexed query", 1},
		{"http floor", "GET fixed JSON", 1},
		{"http floor", "GET fixed JSON", 16},
	}
	for _, op := range []string{"create", "get by id", "indexed query", "unindexed query", "update", "delete"} {
		for _, c := range []int{1, 16} {
			want = append(want, struct {
				section, name string
				conc          int
			}{"dbserver", op, c})
		}
	}
	for _, w := range want {
		row, ok := rep.row(w.section, w.name, w.conc)
		if !ok {
			t.Errorf("no row %s / %s / concurrency %d", w.section, w.name, w.conc)
			continue
		}
		if row.Res.OpsPerSec() <= 0 || row.Res.P50 <= 0 {
			t.Errorf("row %s / %s / %d measured nothing: %+v", w.section, w.name, w.conc, row.Res)
		}
	}
	if len(rep.Scale) != len(cfg.Checkpoints) {
		t.Errorf("scaling measured %d points, want %d", len(rep.Scale), len(cfg.Checkpoints))
	}
	for _, p := range rep.Scale {
		if p.Res.OpsPerSec() <= 0 {
			t.Errorf("indexed query at %d documents measured nothing", p.Docs)
		}
	}
	if row, ok := rep.row("dbserver", "media thumbnail", 16); !ok || row.Res.OpsPerSec() <= 0 {
		t.Errorf("no media thumbnail row, or it measured nothing: %+v", row)
	}
	if m := rep.Media; m == nil || m.UploadRate <= 0 || m.DiskRate <= 0 {
		t.Errorf("the media upload measured nothing: %+v", m)
	}
	if rep.RSS <= 0 {
		t.Error("the dbserver's peak RSS was not read")
	}
	if rt := rep.Realtime; rt == nil {
		t.Error("the realtime section did not run")
	} else if rt.Deliveries == 0 || rt.PacedWith.OpsPerSec() <= 0 || rt.UnpacedWith.OpsPerSec() <= 0 || rt.RSSAfter <= 0 {
		t.Errorf("the realtime section measured nothing: %+v", rt)
	}
	if !strings.Contains(out.String(), "targets:") {
		t.Error("the report has no targets section")
	}
}
