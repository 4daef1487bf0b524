package slotguard

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// defaultMaxInFlight bounds submit attempts in flight when Config leaves
// MaxInFlight zero. At the default pace of 2 attempts/s an in.php answer
// would have to take 4 s for 8 to be in flight; the bound is there for the
// slow uploads and stalls, where piling up more requests helps nobody.
const defaultMaxInFlight = 8

// Transport is the slotguard chain, an http.RoundTripper. For each submit
// (a request whose path ends in /in.php or /createTask) it runs, per attempt:
// the breaker (fail fast while open), the pacer (wait for a token), the
// in-flight bound (wait for a slot), then Base; it reads the answer and
// retries NO_SLOT and the other capacity answers with backoff. Every other
// request goes straight to Base.
//
// A Transport is safe for concurrent use, starts no goroutines and needs no
// Close. Build it with New.
type Transport struct {
	base    http.RoundTripper
	pacer   *Pacer
	sem     *semaphore.Weighted // nil: no bound
	breaker *Breaker
	budget  *localBudget
	rc      *rateControl // nil: the rate never moves
	polls   *pollPacer   // nil: polls pass untouched
	shared  Shared
	scale   float64
	down    [3]atomic.Bool // a shared part is failing: pacer, budget, breaker
	retry   retrier
	stats   counters
}

// New returns a Transport that sends through base (nil:
// http.DefaultTransport) as cfg says. It reports an error naming the field
// when cfg is invalid; the zero Config is valid.
func New(base http.RoundTripper, cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base = baseOf(base)
	scale := cfg.TimeScale
	t := &Transport{
		base:    base,
		pacer:   &Pacer{Base: base},
		breaker: newBreaker(base, cfg.Breaker, scale),
		budget:  newLocalBudget(cfg.Budget, scale),
		shared:  cfg.Shared,
		scale:   scale,
	}
	r := cmp.Or(cfg.Rate, 2) * max(scale, 1)
	t.pacer.Limiter = newLimiter(r, cmp.Or(cfg.Burst, 1))
	t.rc = newRateControl(cfg, r, t.pacer.Limiter, scale)
	t.pacer.moving = t.rc != nil
	if n := cmp.Or(cfg.MaxInFlight, defaultMaxInFlight); n != Unlimited {
		t.sem = semaphore.NewWeighted(int64(n))
	}
	if cfg.Polls.Enabled {
		t.polls = newPollPacer(cfg.Polls, scale)
	}
	t.breaker.Provider = cfg.Provider
	t.retry = retrier{
		backoff:  cfg.Retry.compile(scale),
		provider: cfg.Provider,
		logger:   cfg.Logger,
		maxBody:  cmp.Or(cfg.MaxReplayBody, defaultMaxReplayBody),
		userTurn: scaled(userTurnWait, scale),
		stats:    &t.stats,
		holdAll:  t.pacer.holdFor,
	}
	return t, nil
}

// RoundTrip implements http.RoundTripper. A submit's response is the
// provider's answer byte for byte: the accepted one, a final error, or the
// last capacity answer when the attempts ran out. The error matches
// ErrCircuitOpen while the breaker is open, and ctx.Err() when the request's
// context ends during a wait.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isSubmit(req) {
		if t.polls != nil {
			return t.polls.roundTrip(t, req)
		}
		return t.base.RoundTrip(req)
	}
	return t.retry.do(req, t)
}

// Indexes into Transport.down.
const (
	sharedPacer = iota
	sharedBudget
	sharedBreaker
)

// attempt sends one attempt through breaker, budget, pacer and in-flight
// bound. On an early return it closes req's body, which Base never saw.
func (t *Transport) attempt(ctx context.Context, req *http.Request) (*http.Response, action, error) {
	st := &t.stats
	var ad admission
	var err error
	ad.done, ad.probe, err = t.allow(ctx)
	if err != nil {
		closeBody(req)
		return nil, action{}, notSent(err)
	}
	err = t.admit(ctx, &ad)
	if err == nil {
		err = t.pace(ctx)
	}
	if err == nil {
		var waited time.Duration
		waited, err = acquire(ctx, t.sem)
		st.limitWait.Add(int64(waited))
	}
	if err != nil {
		t.finish(ctx, &ad, action{verdict: verdictUnsent})
		closeBody(req)
		return nil, action{}, notSent(err)
	}
	st.inFlight.Add(1)
	st.attempts.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.release()
		st.transportErrors.Add(1)
		t.finish(ctx, &ad, action{verdict: verdictLost})
		return nil, action{}, err
	}
	resp, act := inspect(resp, t.retry.provider, t)
	if t.polls != nil && act.verdict == verdictAccepted {
		t.polls.submitted(req, resp)
	}
	t.finish(ctx, &ad, act)
	return resp, act, nil
}

// allow asks the local breaker, then the shared one.
func (t *Transport) allow(ctx context.Context) (done func(error), probe bool, err error) {
	done, err = t.breaker.allow()
	if err != nil {
		t.stats.failedFast.Add(1)
		return nil, false, err
	}
	sb := t.shared.Breaker
	if sb == nil {
		return done, false, nil
	}
	probe, err = sb.Allow(ctx)
	switch {
	case err == nil:
		t.sharedUp(ctx, sharedBreaker)
	case errors.Is(err, ErrCircuitOpen):
		t.sharedUp(ctx, sharedBreaker)
		t.stats.failedFast.Add(1)
		done(errNeutral)
		return nil, false, err
	case ctx.Err() != nil:
		done(errNeutral)
		return nil, false, ctx.Err()
	default:
		t.sharedDown(ctx, sharedBreaker, err)
	}
	return done, probe, nil
}

// admission is what let an attempt through, to be told its outcome.
type admission struct {
	done          func(error) // the local breaker's
	probe         bool        // the shared breaker's probe
	local, shared bool        // admitted by the local and the shared budget
}

// admit waits for the local ban budget, then the shared one.
func (t *Transport) admit(ctx context.Context, ad *admission) error {
	b := t.budget
	if wait, _ := b.tryAdmit(time.Now()); wait != 0 {
		start := time.Now()
		err := b.Admit(ctx)
		t.stats.budgetWait.Add(int64(time.Since(start)))
		if err != nil {
			return err
		}
	}
	ad.local = true
	sb := t.shared.Budget
	if sb == nil {
		return nil
	}
	start := time.Now()
	err := sb.Admit(ctx)
	t.stats.budgetWait.Add(int64(time.Since(start)))
	switch {
	case err == nil:
		t.sharedUp(ctx, sharedBudget)
		ad.shared = true
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	t.sharedDown(ctx, sharedBudget, err)
	return nil
}

// pace waits for a token: the shared pacer's when there is one and it
// answers, the local one's otherwise.
func (t *Transport) pace(ctx context.Context) error {
	if t.rc != nil {
		t.rc.tick(time.Now())
	}
	if sp := t.shared.Pacer; sp != nil {
		start := time.Now()
		err := sp.Wait(ctx)
		t.stats.pacerWait.Add(int64(time.Since(start)))
		switch {
		case err == nil:
			t.sharedUp(ctx, sharedPacer)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		t.sharedDown(ctx, sharedPacer, err)
	}
	waited, err := t.pacer.wait(ctx)
	t.stats.pacerWait.Add(int64(waited))
	return err
}

// finish reports an attempt's outcome to everything that admitted it.
func (t *Transport) finish(ctx context.Context, ad *admission, act action) {
	o := act.outcome()
	if ad.local {
		t.budget.Done(ctx, o)
	}
	if ad.shared {
		t.shared.Budget.Done(ctx, o)
	}
	if t.rc != nil {
		t.rc.observe(act.verdict)
	}
	t.breaker.report(ad.done, act)
	probe := ad.probe
	opened := act.verdict == verdictNoSlot && t.breaker.newlyOpened()
	if opened {
		t.retry.logOpen(ctx, t.breaker.openFor)
	}
	sb := t.shared.Breaker
	if sb == nil {
		return
	}
	var err error
	switch {
	case act.verdict == verdictBan:
		err = sb.Open(ctx, time.Now().Add(scaled(act.hold, t.breaker.scale)), act.code)
	case opened || probe && act.verdict == verdictNoSlot:
		err = sb.Open(ctx, time.Now().Add(t.breaker.openFor), "")
	case probe && act.verdict == verdictAccepted:
		err = sb.Close(ctx)
	}
	if err != nil && ctx.Err() == nil {
		t.sharedDown(ctx, sharedBreaker, err)
	}
}

var sharedNames = [...]string{"pacer", "budget", "breaker"}

// sharedDown notes a failing shared part and logs it once per outage.
func (t *Transport) sharedDown(ctx context.Context, part int, err error) {
	if t.down[part].CompareAndSwap(false, true) && t.retry.logger != nil {
		t.retry.logger.LogAttrs(ctx, slog.LevelWarn, "slotguard: shared state unavailable, using local limits",
			slog.String("part", sharedNames[part]), slog.String("error", err.Error()))
	}
}

// sharedUp notes a shared part answering again.
func (t *Transport) sharedUp(ctx context.Context, part int) {
	if t.down[part].Load() && t.down[part].CompareAndSwap(true, false) && t.retry.logger != nil {
		t.retry.logger.LogAttrs(ctx, slog.LevelInfo, "slotguard: shared state back",
			slog.String("part", sharedNames[part]))
	}
}

// release ends an attempt's hold on the in-flight bound.
func (t *Transport) release() {
	t.stats.inFlight.Add(-1)
	if t.sem != nil {
		t.sem.Release(1)
	}
}

// isSubmit reports whether req submits a task: in.php or createTask.
func isSubmit(req *http.Request) bool {
	p := req.URL.Path
	return strings.HasSuffix(p, "/in.php") || strings.HasSuffix(p, "/createTask")
}

func baseOf(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// closeBody closes the request body on an early return, as the
// http.RoundTripper contract asks.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
