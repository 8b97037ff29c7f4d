package testutil

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(base)
	if !c.Now().Equal(base) {
		t.Fatalf("Now = %v, want %v", c.Now(), base)
	}
	c.Advance(time.Minute)
	if want := base.Add(time.Minute); !c.Now().Equal(want) {
		t.Errorf("after Advance: %v, want %v", c.Now(), want)
	}
	c.Set(base)
	if !c.Now().Equal(base) {
		t.Errorf("after Set: %v, want %v", c.Now(), base)
	}
}

func TestLockedBufferKeepsEveryWrite(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "w%d;", i) })
	}
	wg.Wait()
	for i := range 8 {
		if !strings.Contains(b.String(), fmt.Sprintf("w%d;", i)) {
			t.Errorf("write %d lost: %q", i, b.String())
		}
	}
}

func TestReplaceByRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	WriteFile(t, path, "old")
	ReplaceByRename(t, path, "new")
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("after the swap: %q, %v", b, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left behind: %v", err)
	}
}

func TestRandValueCoversEveryJSONType(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for range 500 {
		switch RandValue(r, 0).(type) {
		case nil:
			seen["null"] = true
		case float64:
			seen["number"] = true
		case string:
			seen["string"] = true
		case bool:
			seen["bool"] = true
		case []any:
			seen["array"] = true
		case map[string]any:
			seen["object"] = true
		}
	}
	if len(seen) != 6 {
		t.Errorf("RandValue made only %v", seen)
	}
}
