package slotguard

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// attempter sends one attempt and classifies its answer.
type attempter interface {
	attempt(ctx context.Context, req *http.Request, typ string) (*http.Response, action, error)
}

// retrier is the retry loop that SlotRetry and Transport share.
type retrier struct {
	backoff  backoff
	provider Provider
	logger   *slog.Logger
	maxBody  int64
	userTurn time.Duration // MAX_USER_TURN's hold, scaled
	stats    *counters     // never nil
	// hold holds every submit after MAX_USER_TURN; the attempter waits
	// for it before each attempt.
	hold hold
	// typed makes the retrier read each submit's task type (TaskType)
	// for its attempts.
	typed bool
}

// do runs req's attempts through a until one is handed back.
func (r *retrier) do(req *http.Request, a attempter) (*http.Response, error) {
	ctx := req.Context()
	st := r.stats
	st.submits.Add(1)
	cur, replay, err := prepareBody(req, r.maxBody, r.typed)
	if err != nil {
		return nil, notSent(err)
	}
	typ := ""
	if r.typed {
		typ = taskTypeOf(cur, replay)
	}
	waits, charged := 0, 0
	for attempt := 1; ; attempt++ {
		resp, act, err := a.attempt(ctx, cur, typ)
		if err != nil {
			// The attempt never reached the provider (an open breaker, a
			// cancelled wait: the error matches ErrNotSent), or it did
			// and failed without an answer, which may mean accepted:
			// never retried either way.
			return nil, err
		}
		st.count(act)
		wait, retry := r.wait(act, &waits)
		if !retry {
			return resp, nil
		}
		if !act.probe {
			charged++
		}
		if charged >= r.backoff.attempts || !replay.ok {
			return resp, nil // the last answer, intact
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The next attempt would come after the deadline: hand back
			// what the provider said now rather than an error later.
			return resp, nil
		}
		next, err := replay.next(cur)
		if err != nil {
			return resp, nil
		}
		discard(resp)
		r.logRetry(ctx, attempt, act.code, wait)
		st.retries.Add(1)
		start := time.Now()
		err = sleep(ctx, wait)
		st.backoffWait.Add(int64(time.Since(start)))
		if err != nil {
			// Every attempt so far was refused: nothing was accepted.
			closeBody(next)
			return nil, notSent(err)
		}
		cur = next
	}
}

// wait says whether an answer is retried, and after how long; waits counts
// the backoff waits so far.
func (r *retrier) wait(act action, waits *int) (time.Duration, bool) {
	switch act.verdict {
	case verdictNoSlot, verdictCapacity:
		if act.probe {
			// A probe of the thread overbook (Threads) does not move
			// the schedule on: it waits as the next retry would, never
			// more than the fourth wait, so that a thread freed unseen
			// is found soon.
			return r.backoff.delay(min(*waits+1, maxProbeWait)), true
		}
		*waits++
		return r.backoff.delay(*waits), true
	case verdictRetryAfter:
		// The server said when to come back; a cap keeps a careless or
		// hostile Retry-After from parking the request for hours
		// (go-retryablehttp #247, #295).
		return min(act.hold, time.Duration(r.backoff.max)), true
	case verdictUserTurn:
		// The provider refuses every submit for 10 s: hold them all, this
		// retry included.
		r.hold.set(r.userTurn)
		return r.userTurn, true
	}
	return 0, false
}

func (r *retrier) logRetry(ctx context.Context, attempt int, code string, wait time.Duration) {
	if r.logger == nil || !r.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	r.logger.LogAttrs(ctx, slog.LevelDebug, "slotguard: retrying submit",
		slog.Int("attempt", attempt), slog.String("code", code), slog.Duration("wait", wait))
}

func (r *retrier) logOpen(ctx context.Context, openFor time.Duration) {
	if r.logger == nil {
		return
	}
	r.logger.LogAttrs(ctx, slog.LevelWarn, "slotguard: breaker opened on consecutive NO_SLOT answers",
		slog.Duration("open_for", openFor))
}

// Backoff defaults: CaptchaAI's advice.
const (
	defaultInitial    = 3 * time.Second
	defaultMultiplier = 1.5
	defaultMax        = 15 * time.Second
	defaultAttempts   = 5
)

// Backoff is the wait between NO_SLOT answers and the next attempt: Initial,
// then each wait Multiplier times the last, never more than Max. The zero
// value is CaptchaAI's advice: 3 s, 4.5 s, 6.75 s, 10.125 s, then 15 s, in
// all 5 attempts.
type Backoff struct {
	// Initial is the first wait. 0: 3s.
	Initial time.Duration
	// Multiplier is the growth per retry. 0: 1.5; otherwise at least 1.
	Multiplier float64
	// Max caps one wait. 0: 15s; at least Initial.
	Max time.Duration
	// Attempts is attempts in all, the first included. 0: 5; 1: never
	// retry. Unlimited retries until the context ends.
	Attempts int
	// Jitter spreads waits so that clients refused together do not come
	// back together: each wait is drawn uniformly from
	// [(1-Jitter) x wait, wait]. 0: off, so the schedule is exact; 1: full
	// jitter. At most 1.
	Jitter float64
	// Rand returns numbers in [0, 1) for Jitter. nil: math/rand/v2.
	Rand func() float64
}

// backoff is a validated Backoff with its defaults filled in.
type backoff struct {
	initial, max float64 // nanoseconds
	mult         float64
	attempts     int
	jitter       float64
	rand         func() float64
}

func (b Backoff) validate(name string) error {
	switch {
	case b.Initial < 0:
		return fieldError(name+".Initial", b.Initial, "must not be negative")
	case math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) || b.Multiplier != 0 && b.Multiplier < 1:
		return fieldError(name+".Multiplier", b.Multiplier, "must be at least 1 (0: 1.5)")
	case b.Max < 0:
		return fieldError(name+".Max", b.Max, "must not be negative")
	case cmp.Or(b.Max, defaultMax) < cmp.Or(b.Initial, defaultInitial):
		return fieldError(name+".Max", cmp.Or(b.Max, defaultMax),
			fmt.Sprintf("must be at least Initial (%v)", cmp.Or(b.Initial, defaultInitial)))
	case b.Attempts < 0:
		return fieldError(name+".Attempts", b.Attempts, "must not be negative (1: never retry)")
	case math.IsNaN(b.Jitter) || b.Jitter < 0 || b.Jitter > 1:
		return fieldError(name+".Jitter", b.Jitter, "must be between 0 and 1")
	}
	return nil
}

// compile fills in the defaults and applies the time scale; b must be valid.
func (b Backoff) compile(scale float64) backoff {
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return backoff{
		initial:  float64(scaled(cmp.Or(b.Initial, defaultInitial), scale)),
		max:      float64(scaled(cmp.Or(b.Max, defaultMax), scale)),
		mult:     cmp.Or(b.Multiplier, defaultMultiplier),
		attempts: cmp.Or(b.Attempts, defaultAttempts),
		jitter:   b.Jitter,
		rand:     r,
	}
}

// delay is the wait before retry n (1: after the first attempt).
func (b *backoff) delay(n int) time.Duration {
	d := b.initial
	for i := 1; i < n && d < b.max; i++ {
		d *= b.mult
	}
	d = min(d, b.max)
	if b.jitter > 0 {
		d -= d * b.jitter * b.rand()
	}
	return time.Duration(d)
}

// hold holds every submit until a moment: set after MAX_USER_TURN, which
// refuses all of a key's submits for 10 s.
type hold struct {
	until atomic.Int64 // Unix nanoseconds; 0: none
}

// set holds every submit for d from now, unless a longer hold is already
// in force.
func (h *hold) set(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := h.until.Load()
		if cur >= until || h.until.CompareAndSwap(cur, until) {
			return
		}
	}
}

// wait blocks until the hold is over, or ctx ends, and reports how long it
// waited. Without a hold it takes no clock reading.
func (h *hold) wait(ctx context.Context) (time.Duration, error) {
	until := h.until.Load()
	if until == 0 {
		return 0, nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return 0, nil
	}
	return d, sleep(ctx, d)
}
