package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one measured load: how many operations completed in how long, and their latencies.
type Result struct {
	Ops      int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// OpsPerSec is the throughput of the run.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// runLoad runs op from conc goroutines until maxOps operations have run or maxDur has
// passed, whichever comes first; i numbers the operations from 0. The first error stops the
// run and is returned.
func runLoad(ctx context.Context, conc, maxOps int, maxDur time.Duration, op func(ctx context.Context, i int) error) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, maxDur+10*time.Second)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	lat := make([][]time.Duration, conc)
	start := time.Now()
	deadline := start.Add(maxDur)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= maxOps || !time.Now().Before(deadline) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("operation %d: %w", i, err) })
					cancel()
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Result{}, firstErr
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := Result{Ops: len(all), Elapsed: elapsed}
	if len(all) > 0 {
		r.P50 = all[len(all)*50/100]
		r.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return r, nil
}
