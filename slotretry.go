package slotguard

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// SlotRetry is an http.RoundTripper that retries submits (in.php and
// createTask requests) answered NO_SLOT, or with another answer that proves
// the task was not accepted, after the Backoff's waits. It reads the answer
// on purpose, a bounded prefix of it, and hands the caller back the very
// bytes the provider sent: the accepted answer, a final error, or the last
// capacity answer when the attempts run out. It never retries what may have
// been accepted: a transport error, an HTTP 5xx, an unreadable answer.
//
// The request body is replayed byte for byte on each retry, through
// GetBody when the request has it, otherwise from a copy made once, up to
// MaxReplayBody bytes (a longer body is sent once, never retried).
//
// SlotRetry alone neither paces nor breaks; Transport adds both. The zero
// value uses the Backoff defaults.
type SlotRetry struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Backoff is the wait between attempts. An invalid Backoff makes
	// RoundTrip fail with an error naming the field.
	Backoff Backoff
	// Provider selects how provider-specific answers are read.
	Provider Provider
	// MaxReplayBody caps a body buffered for replay. 0: 1 MiB.
	MaxReplayBody int64
	// Logger receives a debug record for each retry. nil: silent.
	Logger *slog.Logger

	once  sync.Once
	r     retrier
	err   error
	stats counters
}

// RoundTrip implements http.RoundTripper.
func (s *SlotRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isSubmit(req) {
		return baseOf(s.Base).RoundTrip(req)
	}
	s.once.Do(func() {
		if s.err = s.Backoff.validate("Backoff"); s.err != nil || s.MaxReplayBody < 0 {
			if s.err == nil {
				s.err = fieldError("MaxReplayBody", s.MaxReplayBody, "must not be negative")
			}
			return
		}
		s.r = retrier{
			backoff:  s.Backoff.compile(1),
			provider: s.Provider,
			logger:   s.Logger,
			maxBody:  cmp.Or(s.MaxReplayBody, defaultMaxReplayBody),
			userTurn: userTurnWait,
			stats:    &s.stats,
		}
	})
	if s.err != nil {
		closeBody(req)
		return nil, s.err
	}
	return s.r.do(req, s)
}

func (s *SlotRetry) attempt(_ context.Context, req *http.Request) (*http.Response, action, error) {
	s.stats.attempts.Add(1)
	resp, err := baseOf(s.Base).RoundTrip(req)
	if err != nil {
		return nil, action{}, err
	}
	resp, act := inspect(resp, s.Provider, nil)
	return resp, act, nil
}

// attempter sends one attempt and classifies its answer.
type attempter interface {
	attempt(ctx context.Context, req *http.Request) (*http.Response, action, error)
}

// retrier is the retry loop that SlotRetry and Transport share.
type retrier struct {
	backoff  backoff
	provider Provider
	logger   *slog.Logger
	maxBody  int64
	userTurn time.Duration         // MAX_USER_TURN's hold, scaled
	stats    *counters             // never nil
	holdAll  func(d time.Duration) // holds every submit (the pacer); may be nil
}

// do runs req's attempts through a until one is handed back.
func (r *retrier) do(req *http.Request, a attempter) (*http.Response, error) {
	ctx := req.Context()
	st := r.stats
	st.submits.Add(1)
	cur, replay, err := prepareBody(req, r.maxBody)
	if err != nil {
		return nil, notSent(err)
	}
	waits := 0
	for attempt := 1; ; attempt++ {
		resp, act, err := a.attempt(ctx, cur)
		if err != nil {
			// The attempt never reached the provider (an open breaker, a
			// cancelled wait: the error matches ErrNotSent), or it did
			// and failed without an answer, which may mean accepted:
			// never retried either way.
			return nil, err
		}
		st.count(act)
		var wait time.Duration
		switch act.verdict {
		case verdictNoSlot, verdictCapacity:
			waits++
			wait = r.backoff.delay(waits)
		case verdictRetryAfter:
			// The server said when to come back; a cap keeps a careless
			// or hostile Retry-After from parking the request for hours
			// (go-retryablehttp #247, #295).
			wait = min(act.hold, time.Duration(r.backoff.max))
		case verdictUserTurn:
			// The provider refuses every submit for 10 s: hold them all,
			// this retry included.
			wait = r.userTurn
			if r.holdAll != nil {
				r.holdAll(wait)
			}
		default:
			return resp, nil
		}
		if attempt >= r.backoff.attempts || !replay.ok {
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
	case cmp.Or(b.Max, 15*time.Second) < cmp.Or(b.Initial, 3*time.Second):
		return fieldError(name+".Max", cmp.Or(b.Max, 15*time.Second),
			fmt.Sprintf("must be at least Initial (%v)", cmp.Or(b.Initial, 3*time.Second)))
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
		initial:  float64(scaled(cmp.Or(b.Initial, 3*time.Second), scale)),
		max:      float64(scaled(cmp.Or(b.Max, 15*time.Second), scale)),
		mult:     cmp.Or(b.Multiplier, 1.5),
		attempts: cmp.Or(b.Attempts, 5),
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
