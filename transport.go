package slotguard

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Transport is the slotguard chain, an http.RoundTripper: for each submit
// it runs the stages drawn in the package overview (breaker, ban budget,
// pacer, in-flight bound, then base), reads the answer and retries NO_SLOT
// and the other capacity answers with backoff. Every other request goes
// straight to base, or through poll pacing when Config.Polls asks for it.
//
// A Transport is safe for concurrent use, starts no goroutines and needs no
// Close. Build it with New.
type Transport struct {
	base    http.RoundTripper
	pacer   pacer
	bound   bound
	breaker *breaker
	budget  *localBudget
	rc      *rateControl // nil: the rate never moves
	polls   *pollPacer   // nil: polls pass untouched
	threads *threads     // nil: no thread permits
	shared  Shared
	scale   float64
	down    [4]atomic.Bool // a shared part is failing: pacer, budget, breaker, threads
	downs   atomic.Int32   // how many are
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
	scale := cfg.TimeScale
	r := cmp.Or(cfg.Rate, defaultRate) * max(scale, 1)
	burst := cmp.Or(cfg.Burst, defaultBurst)
	lim := newLimiter(r, burst)
	t := &Transport{
		base:    baseOr(base),
		breaker: newBreaker(cfg.Breaker, scale),
		budget:  newLocalBudget(cfg.Budget, scale),
		rc:      newRateControl(cfg, r, burst, lim, scale),
		shared:  cfg.Shared,
		scale:   scale,
		retry: retrier{
			backoff:  cfg.Retry.compile(scale),
			provider: cfg.Provider,
			logger:   cfg.Logger,
			maxBody:  cmp.Or(cfg.MaxReplayBody, defaultMaxReplayBody),
			userTurn: scaled(userTurnWait, scale),
			typed:    true,
		},
	}
	t.pacer = pacer{lim: lim, moving: t.rc != nil}
	if n := cmp.Or(cfg.MaxInFlight, defaultMaxInFlight); n != Unlimited {
		t.bound.sem = semaphore.NewWeighted(int64(n))
	}
	if cfg.Polls.Enabled {
		t.polls = newPollPacer(cfg.Polls, scale)
	}
	if cfg.Threads.Enabled {
		t.threads = newThreads(cfg.Threads, scale)
	}
	t.retry.stats = &t.stats
	return t, nil
}

// RoundTrip implements http.RoundTripper. A submit's response is the
// provider's answer byte for byte: the accepted one, a final error, or the
// last capacity answer when the attempts ran out. The error matches
// ErrCircuitOpen while the breaker is open, the context's error when the
// request's context ends during a wait, and ErrNotSent whenever the
// provider cannot have accepted the submit.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case !IsSubmit(req):
		if t.polls != nil || t.threads != nil {
			return t.poll(req)
		}
		return t.base.RoundTrip(req)
	case t.threads != nil:
		return t.submit(req)
	}
	return t.retry.do(req, t)
}

// attempt sends one attempt through breaker, budget, pacer and in-flight
// bound. Until base has req, req's body is its to close.
func (t *Transport) attempt(ctx context.Context, req *http.Request, typ string) (*http.Response, action, error) {
	sent := false
	defer func() {
		if !sent {
			closeBody(req)
		}
	}()
	st := &t.stats
	ad := admission{typ: typ}
	var err error
	if ad.done, ad.probe, err = t.allow(ctx, typ); err != nil {
		return nil, action{}, notSent(err)
	}
	err = t.admit(ctx, &ad)
	if err == nil {
		err = t.pace(ctx, typ)
	}
	if err == nil {
		var waited time.Duration
		waited, err = t.bound.acquire(ctx)
		st.limitWait.Add(int64(waited))
	}
	if err != nil {
		t.finish(ctx, &ad, action{verdict: verdictUnsent})
		return nil, action{}, notSent(err)
	}
	st.attempts.Add(1)
	sent = true
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.bound.release()
		st.transportErrors.Add(1)
		t.finish(ctx, &ad, action{verdict: verdictLost})
		return nil, action{}, err
	}
	resp, act := inspect(resp, t.retry.provider, &t.bound)
	st.countType(typ, act)
	if t.polls != nil && act.verdict == verdictAccepted {
		t.polls.submitted(slowType(typ), resp)
	}
	t.finish(ctx, &ad, act)
	return resp, act, nil
}

// admission is what let an attempt through, to be told its outcome.
type admission struct {
	done          func(error) // the local breaker's
	probe         bool        // the shared breaker's probe
	typ           string      // the submit's task type
	local, shared bool        // admitted by the local and the shared budget
}

// allow asks the local breaker, then the shared one.
func (t *Transport) allow(ctx context.Context, typ string) (done func(error), probe bool, err error) {
	done, err = t.breaker.allow(typ)
	if err != nil {
		t.stats.failedFast.Add(1)
		t.reassert(ctx, typ, err)
		return nil, false, err
	}
	sb := t.shared.Breaker
	if sb == nil {
		return done, false, nil
	}
	probe, err = sb.Allow(ctx, typ)
	if errors.Is(err, ErrCircuitOpen) {
		t.sharedUp(ctx, sharedBreaker)
		t.stats.failedFast.Add(1)
		done(errNeutral)
		return nil, false, err
	}
	switch err := t.sharedResult(ctx, sharedBreaker, err); err {
	case nil:
		return done, probe, nil
	case errSharedDown:
		return done, false, nil
	default:
		done(errNeutral)
		return nil, false, err
	}
}

// reassert writes the local breaker's opening to the shared breaker, at
// most once a second for each opening: the store may have lost it. A ban
// is the key's, a run's opening typ's.
func (t *Transport) reassert(ctx context.Context, typ string, err error) {
	sb := t.shared.Breaker
	var oe *OpenError
	if sb == nil || !errors.As(err, &oe) || oe.Until.IsZero() {
		return
	}
	typ = t.breaker.sharedType(typ)
	if !t.breaker.reassertDue(typ, oe.Code) {
		return
	}
	if err := sb.Open(ctx, typ, oe.Until, oe.Code); err != nil && ctx.Err() == nil {
		t.sharedDown(ctx, sharedBreaker, err)
	}
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
	switch err := t.sharedResult(ctx, sharedBudget, err); err {
	case nil:
		ad.shared = true
		return nil
	case errSharedDown:
		return nil
	default:
		return err
	}
}

// pace waits out any MAX_USER_TURN hold, then for a token of typ's
// adaptive rate (with Adaptive), then for the key's: the shared pacer's
// when there is one and it answers, the local one's otherwise.
func (t *Transport) pace(ctx context.Context, typ string) error {
	waited, err := t.retry.hold.wait(ctx)
	t.stats.pacerWait.Add(int64(waited))
	if err != nil {
		return err
	}
	if t.rc != nil {
		t.rc.tick(time.Now())
		waited, err := t.rc.wait(ctx, typ)
		t.stats.pacerWait.Add(int64(waited))
		if err != nil {
			return err
		}
	}
	if sp := t.shared.Pacer; sp != nil {
		start := time.Now()
		err := sp.Wait(ctx)
		t.stats.pacerWait.Add(int64(time.Since(start)))
		if err := t.sharedResult(ctx, sharedPacer, err); err != errSharedDown {
			return err
		}
	}
	waited, err = t.pacer.wait(ctx)
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
		t.rc.observe(ad.typ, act.verdict)
	}

	t.breaker.report(ad.done, act)
	opened := act.verdict == verdictNoSlot && t.breaker.newlyOpened()
	if opened {
		t.retry.logOpen(ctx, t.breaker.openFor)
	}
	sb := t.shared.Breaker
	if sb == nil {
		return
	}
	// A run's opening is shared for the run's type only ("" for the
	// untyped run that types past the first 32 share here), claimed once
	// per opening so that another type's NO_SLOT cannot claim it. The rest
	// names the submit's own type: the store decides where it stands.
	typ, until := ad.typ, time.Now().Add(t.breaker.openFor)
	var err error
	switch {
	case act.verdict == verdictBan:
		err = sb.Open(ctx, typ, time.Now().Add(scaled(act.hold, t.scale)), act.code)
	case act.verdict == verdictNoSlot:
		run, claimed := t.breaker.sharedType(typ), t.breaker.claimOpening(typ)
		if claimed {
			err = sb.Open(ctx, run, until, "")
		}
		if ad.probe && err == nil && (!claimed || run != typ) {
			err = sb.Open(ctx, typ, until, "")
		}
	case ad.probe && act.verdict == verdictAccepted:
		err = sb.Close(ctx, typ)
	}
	if ad.probe && act.verdict != verdictAccepted && err == nil {
		// The probe ends. It proved nothing (another answer, or none): the
		// next submit of the fleet may probe at once. Or it opened again a
		// breaker that may not be its type's (the key's, after a ban): a
		// store must not hold it, refusing every type, until it times out.
		err = sb.Release(ctx, typ)
	}
	if err != nil && ctx.Err() == nil {
		t.sharedDown(ctx, sharedBreaker, err)
	}
}

// IsSubmit reports whether req submits a task, the requests slotguard
// paces and retries: its path ends in /in.php (2captcha's API v1) or
// /createTask (API v2).
func IsSubmit(req *http.Request) bool {
	p := req.URL.Path
	return strings.HasSuffix(p, "/in.php") || strings.HasSuffix(p, "/createTask")
}

// baseOr is rt, or http.DefaultTransport when rt is nil.
func baseOr(rt http.RoundTripper) http.RoundTripper {
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
