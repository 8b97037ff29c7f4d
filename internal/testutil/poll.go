package testutil

import (
	"errors"
	"time"
)

// Failer is the part of testing.TB that Eventually needs.
type Failer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// pollFirst and pollMax bound Eventually's wait between two calls: it starts short, so a unit
// test waiting for a goroutine spends microseconds, and doubles up to pollMax, so a test
// waiting minutes for a cluster does not hammer it.
const (
	pollFirst = time.Millisecond
	pollMax   = 100 * time.Millisecond
)

// Eventually calls cond until it returns nil and fails the test with cond's last error when it
// has not done so within the given time. cond is called at least once, and once more at the
// deadline, so a slow first call does not use up the whole wait.
func Eventually(t Failer, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	wait := pollFirst
	for {
		err := cond()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: not so after %s: %v", what, within, err)
			return
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, pollMax)
	}
}

// errNotYet is what EventuallyTrue's condition reports until it holds.
var errNotYet = errors.New("the condition does not hold yet")

// EventuallyTrue is Eventually for a condition that has no error to tell.
func EventuallyTrue(t Failer, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}
