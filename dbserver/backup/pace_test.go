package backup

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// fakePacer returns a pacer over buf whose clock advances by step at every look, whose sleeps
// advance it by their length, and whose activity is *act.
func fakePacer(ctx context.Context, buf *bytes.Buffer, act *int64, step time.Duration) (*pacer, *[]time.Duration) {
	clock := time.Unix(0, 0)
	var sleeps []time.Duration
	p := newPacer(ctx, buf, func() int64 { return *act })
	p.now = func() time.Time { clock = clock.Add(step); return clock }
	p.start = p.now()
	p.sleep = func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		sleeps = append(sleeps, d)
		clock = clock.Add(d)
		return nil
	}
	return p, &sleeps
}

func TestPacerSleepsAsLongAsItWorkedWhileTheDatabaseWorks(t *testing.T) {
	var buf bytes.Buffer
	act := int64(0)
	p, sleeps := fakePacer(context.Background(), &buf, &act, 3*time.Millisecond)
	chunk := make([]byte, 32<<10)
	write := func(n int) {
		for range n {
			if _, err := p.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	perSlice := paceSlice / len(chunk)

	// An idle database: slices end, nothing sleeps.
	write(3 * perSlice)
	if len(*sleeps) != 0 {
		t.Fatalf("slept %v against an idle database", *sleeps)
	}
	// Writes acknowledged during a slice: the slice's end pauses as long as the slice took
	// (one clock step from the start to the look at its end).
	act = 5
	write(perSlice)
	if len(*sleeps) != 1 || (*sleeps)[0] != 3*time.Millisecond {
		t.Fatalf("sleeps = %v, want one of 3ms", *sleeps)
	}
	// Activity that stopped: the next slice does not pause.
	write(perSlice)
	if len(*sleeps) != 1 {
		t.Fatalf("sleeps = %v after the database went idle, want still one", *sleeps)
	}
	// Every byte reached the archive, in order and once.
	if buf.Len() != 5*paceSlice {
		t.Fatalf("wrote %d bytes, want %d", buf.Len(), 5*paceSlice)
	}
	if p.slept != 3*time.Millisecond {
		t.Fatalf("slept %v in all, want 3ms", p.slept)
	}
}

func TestPacerStopsWhenTheBackupIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	act := int64(0)
	p, _ := fakePacer(ctx, &buf, &act, time.Millisecond)
	act = 1
	cancel()
	_, err := p.Write(make([]byte, paceSlice))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a pause of a cancelled backup returned %v, want context.Canceled", err)
	}
}

// A real sleep ends early when the backup is cancelled.
func TestSleepCtxReturnsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- sleepCtx(ctx, time.Hour) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("sleepCtx = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleepCtx(cancelled, 1h) did not return")
	}
}
