package slotguard

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// bound bounds submit attempts in flight (Config.MaxInFlight): an attempt
// holds a unit of sem from before it is sent until its answer has been read
// or its RoundTrip has failed. The answer's body releases it exactly once
// (answerBody), also when the caller closes it early.
type bound struct {
	sem      *semaphore.Weighted // nil: no bound
	inFlight atomic.Int64        // attempts holding a unit now
}

// acquire takes one unit, waiting at most until ctx ends, and reports how
// long it waited. The fast path takes no clock reading.
func (b *bound) acquire(ctx context.Context) (time.Duration, error) {
	if b.sem == nil || b.sem.TryAcquire(1) {
		b.inFlight.Add(1)
		return 0, nil
	}
	start := time.Now()
	if err := b.sem.Acquire(ctx, 1); err != nil {
		return time.Since(start), err
	}
	b.inFlight.Add(1)
	return time.Since(start), nil
}

// release gives back the unit one attempt holds.
func (b *bound) release() {
	b.inFlight.Add(-1)
	if b.sem != nil {
		b.sem.Release(1)
	}
}
