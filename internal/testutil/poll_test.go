package testutil

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// failRecorder is a Failer that keeps the failure instead of ending the test.
type failRecorder struct{ msg string }

func (*failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	var f failRecorder
	Eventually(&f, 5*time.Second, "third call", func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if f.msg != "" {
		t.Fatalf("failed although the condition held: %s", f.msg)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("condition called %d times, want 3", n)
	}
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	var calls atomic.Int32
	var f failRecorder
	start := time.Now()
	Eventually(&f, 50*time.Millisecond, "the impossible", func() error {
		return fmt.Errorf("attempt %d", calls.Add(1))
	})
	took := time.Since(start)
	if !strings.HasPrefix(f.msg, "the impossible: not so after 50ms: attempt ") {
		t.Fatalf("failure message %q", f.msg)
	}
	if want := fmt.Sprintf("attempt %d", calls.Load()); !strings.HasSuffix(f.msg, want) {
		t.Errorf("failure message %q does not end with the last error %q", f.msg, want)
	}
	if took < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the deadline", took)
	}
	if calls.Load() < 3 {
		t.Errorf("condition called %d times in 50ms, want polling", calls.Load())
	}
}

func TestEventuallyTrue(t *testing.T) {
	var f failRecorder
	EventuallyTrue(&f, 20*time.Millisecond, "never", func() bool { return false })
	if !strings.Contains(f.msg, "never: not so after 20ms") {
		t.Errorf("failure message %q", f.msg)
	}
	f = failRecorder{}
	EventuallyTrue(&f, time.Second, "always", func() bool { return true })
	if f.msg != "" {
		t.Errorf("failed although the condition held: %s", f.msg)
	}
}
