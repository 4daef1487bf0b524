package slotguard

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
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

// counters are a Transport's Stats as they run.
type counters struct {
	submits, attempts, accepted, retries  atomic.Int64
	transportErrors, failedFast, inFlight atomic.Int64
	pacerWait, limitWait, backoffWait     atomic.Int64 // nanoseconds
	budgetWait, pollWait                  atomic.Int64 // nanoseconds
	polls                                 atomic.Int64
	mu                                    sync.Mutex
	answers                               map[string]int64
}

// maxCodes bounds the distinct codes Stats.Answers keeps; later new ones
// count under "other", so a misbehaving server cannot grow it without end.
const maxCodes = 64

func (c *counters) count(act action) {
	if act.verdict == verdictAccepted {
		c.accepted.Add(1)
		return
	}
	code := act.code
	if code == "" {
		return // a non-2xx answer: not read
	}
	c.mu.Lock()
	if c.answers == nil {
		c.answers = make(map[string]int64)
	}
	if _, ok := c.answers[code]; !ok && len(c.answers) >= maxCodes {
		code = "other"
	}
	c.answers[code]++
	c.mu.Unlock()
}

func (c *counters) answerCounts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.answers))
	for k, v := range c.answers {
		m[k] = v
	}
	return m
}
