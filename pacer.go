package slotguard

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// pacer spaces submit attempts with a token bucket (Config.Rate and Burst).
// A nil lim paces nothing.
type pacer struct {
	lim *rate.Limiter
	// moving is set when the limit moves (Adaptive, Schedule): waits then
	// reserve nothing (see waitMoving).
	moving bool
}

// errTokenAfterDeadline is the pacer's refusal when the next token would
// come after the request's deadline (rate.Limiter says so at once, without
// waiting).
var errTokenAfterDeadline = fmt.Errorf("slotguard: pacer: the next token comes after the request's deadline: %w", context.DeadlineExceeded)

// newLimiter builds the pacer's limiter for Rate and Burst; Rate +Inf
// switches pacing off.
func newLimiter(r float64, burst int) *rate.Limiter {
	if math.IsInf(r, 1) {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}

// wait blocks until one token is taken, and reports how long it waited.
// The error is ctx.Err() when ctx ends first, or errTokenAfterDeadline.
func (p *pacer) wait(ctx context.Context) (time.Duration, error) {
	lim := p.lim
	if lim == nil || lim.Allow() {
		// The fast path: a token is there, so no clock reading and no timer.
		return 0, nil
	}
	start := time.Now()
	var err error
	if p.moving {
		err = waitMoving(ctx, lim)
	} else {
		err = lim.Wait(ctx)
	}
	waited := time.Since(start)
	if err != nil && ctx.Err() == nil {
		return waited, errTokenAfterDeadline
	}
	return waited, err
}

// waitMoving waits for a token of a limiter whose rate moves. A plain
// Wait reserves a token at the rate of the moment: when the rate then
// rises, the attempts queued behind it stay parked at the slow pace (with
// 50 callers at 0.2/s, for minutes). Reserving and cancelling instead leaks
// tokens when callers interleave (Cancel restores only what no later
// reservation has claimed). So it reserves nothing: it takes a token when
// one is there, and otherwise sleeps until one would be at today's rate.
func waitMoving(ctx context.Context, lim *rate.Limiter) error {
	for {
		if lim.Allow() {
			return nil
		}
		d := time.Second
		if l := float64(lim.Limit()); l > 0 {
			// Rounded up, so that the token is whole on waking.
			d = time.Duration(math.Ceil((1 - min(lim.Tokens(), 1)) / l * float64(time.Second)))
		}
		d = max(d, 1)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return errTokenAfterDeadline
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}
