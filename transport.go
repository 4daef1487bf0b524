package slotguard

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
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
	}
	r := cmp.Or(cfg.Rate, 2)
	if scale > 1 {
		r *= scale
	}
	t.pacer.Limiter = newLimiter(r, cmp.Or(cfg.Burst, 1))
	if n := cmp.Or(cfg.MaxInFlight, defaultMaxInFlight); n != Unlimited {
		t.sem = semaphore.NewWeighted(int64(n))
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
		return t.base.RoundTrip(req)
	}
	return t.retry.do(req, t)
}

// attempt sends one attempt through breaker, pacer and in-flight bound. On
// an early return it closes req's body, which Base never saw.
func (t *Transport) attempt(ctx context.Context, req *http.Request) (*http.Response, action, error) {
	st := &t.stats
	done, err := t.breaker.allow()
	if err != nil {
		st.failedFast.Add(1)
		closeBody(req)
		return nil, action{}, err
	}
	waited, err := t.pacer.wait(ctx)
	st.pacerWait.Add(int64(waited))
	if err == nil {
		waited, err = acquire(ctx, t.sem)
		st.limitWait.Add(int64(waited))
	}
	if err != nil {
		done(errNeutral)
		closeBody(req)
		return nil, action{}, err
	}
	st.inFlight.Add(1)
	st.attempts.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.release()
		done(errNeutral)
		st.transportErrors.Add(1)
		return nil, action{}, err
	}
	resp, act := inspect(resp, t.retry.provider, t)
	t.breaker.report(done, act)
	if act.verdict == verdictNoSlot && t.breaker.newlyOpened() {
		t.retry.logOpen(ctx, t.breaker.openFor)
	}
	return resp, act, nil
}

// release ends an attempt's hold on the in-flight bound.
func (t *Transport) release() {
	t.stats.inFlight.Add(-1)
	if t.sem != nil {
		t.sem.Release(1)
	}
}

// Stats is a snapshot of a Transport's counters, for dashboards.
type Stats struct {
	Submits  int64 // submit requests (RoundTrip calls for in.php or createTask)
	Attempts int64 // attempts sent to the provider, retries included
	Accepted int64 // submits the provider accepted (and billed)
	Retries  int64 // attempts that were retries
	// Answers counts the answers that were not an acceptance, by code
	// ("ERROR_NO_SLOT_AVAILABLE", "MAX_USER_TURN", "ERROR: 1001", ...);
	// answers slotguard cannot read count under "unreadable".
	Answers         map[string]int64
	TransportErrors int64 // attempts that failed without an answer
	FailedFast      int64 // submit attempts refused by the open breaker
	Breaker         gobreaker.State
	BreakerOpens    int64 // times the breaker opened on NO_SLOT answers
	InFlight        int64 // submit attempts in flight now
	PacerWait       time.Duration
	LimitWait       time.Duration // waiting for the in-flight bound
	BackoffWait     time.Duration
}

// Stats returns a snapshot of the Transport's counters.
func (t *Transport) Stats() Stats {
	st := &t.stats
	return Stats{
		Submits:         st.submits.Load(),
		Attempts:        st.attempts.Load(),
		Accepted:        st.accepted.Load(),
		Retries:         st.retries.Load(),
		Answers:         st.answerCounts(),
		TransportErrors: st.transportErrors.Load(),
		FailedFast:      st.failedFast.Load(),
		Breaker:         t.breaker.state(),
		BreakerOpens:    t.breaker.opens.Load(),
		InFlight:        st.inFlight.Load(),
		PacerWait:       time.Duration(st.pacerWait.Load()),
		LimitWait:       time.Duration(st.limitWait.Load()),
		BackoffWait:     time.Duration(st.backoffWait.Load()),
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
