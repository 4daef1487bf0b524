package slotguard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Pacer is an http.RoundTripper that spaces submit attempts (in.php and
// createTask requests) with a token bucket, so that a burst of callers, or a
// burst of retries, never reaches the provider faster than the limiter allows.
// Other requests (res.php polls, balance checks) pass straight through.
//
// The zero value passes everything through unpaced. Limiter may be shared
// between Pacers, and with any other user of the same *rate.Limiter, to pace
// several clients that use one API key.
type Pacer struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Limiter paces submit attempts, one token each; nil means no pacing.
	Limiter *rate.Limiter

	// moving is set when the limit moves (Adaptive, Schedule).
	moving bool
	// holdUntil (Unix nanoseconds, 0: none) holds every submit until then:
	// set after MAX_USER_TURN, which refuses all submits for 10 s.
	holdUntil atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (p *Pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	base := baseOf(p.Base)
	if !isSubmit(req) {
		return base.RoundTrip(req)
	}
	if _, err := p.wait(req.Context()); err != nil {
		closeBody(req)
		return nil, err
	}
	return base.RoundTrip(req)
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
			return fmt.Errorf("slotguard: pacer: the next token comes after the request's deadline: %w", context.DeadlineExceeded)
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// holdFor holds every submit for d from now, unless a longer hold is already
// in force.
func (p *Pacer) holdFor(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := p.holdUntil.Load()
		if cur >= until || p.holdUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// wait blocks until the submit may go: past any hold, then one token. It
// reports how long it waited. The error is ctx.Err() when ctx ends first, or
// one that matches context.DeadlineExceeded when the token would come after
// ctx's deadline (rate.Limiter reports that at once, without waiting).
func (p *Pacer) wait(ctx context.Context) (time.Duration, error) {
	var waited time.Duration
	if until := p.holdUntil.Load(); until != 0 {
		if d := time.Until(time.Unix(0, until)); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return d, err
			}
			waited = d
		}
	}
	lim := p.Limiter
	if lim == nil || lim.Allow() {
		// The fast path: a token is there, so no clock reading and no timer.
		return waited, nil
	}
	start := time.Now()
	var err error
	if p.moving {
		err = waitMoving(ctx, lim)
	} else {
		err = lim.Wait(ctx)
	}
	waited += time.Since(start)
	if err != nil && ctx.Err() == nil {
		return waited, fmt.Errorf("slotguard: pacer: the next token comes after the request's deadline: %w", context.DeadlineExceeded)
	}
	return waited, err
}

// newLimiter builds the pacer's limiter for Rate and Burst; Rate +Inf
// switches pacing off.
func newLimiter(r float64, burst int) *rate.Limiter {
	if math.IsInf(r, 1) {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}
