package slotguard

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// The public stages: each an http.RoundTripper with a Base field, a thin
// adapter over the component that Transport runs (pacer, retrier, breaker,
// bound), for users who want one stage alone or want to share the
// dependency's own value (*rate.Limiter, the gobreaker breaker,
// *semaphore.Weighted) between clients. Each touches only submits (in.php
// and createTask requests, see IsSubmit); every other request goes straight
// to Base. Transport runs the components itself, without nesting the
// stages, so an answer is read once per attempt.

// Pacer is an http.RoundTripper that spaces submit attempts with a token
// bucket, so that a burst of callers never reaches the provider faster than
// the limiter allows.
//
// The zero value passes everything through unpaced. Limiter may be shared
// between Pacers, and with any other user of the same *rate.Limiter, to
// pace several clients that use one API key.
type Pacer struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Limiter paces submit attempts, one token each; nil means no pacing.
	Limiter *rate.Limiter
}

func (p *Pacer) base() http.RoundTripper { return baseOr(p.Base) }

// RoundTrip implements http.RoundTripper. A wait that ends with the
// request's context, or a token that would come after its deadline, fails
// with an error that matches ErrNotSent and the context's error.
func (p *Pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	if IsSubmit(req) {
		pc := pacer{lim: p.Limiter}
		if _, err := pc.wait(req.Context()); err != nil {
			closeBody(req)
			return nil, notSent(err)
		}
	}
	return p.base().RoundTrip(req)
}

// SlotRetry is an http.RoundTripper that retries submits answered NO_SLOT,
// or with another answer that proves the task was not accepted, after the
// Backoff's waits. It reads the answer on purpose, a bounded prefix of it,
// and hands the caller back the very bytes the provider sent: the accepted
// answer, a final error, or the last capacity answer when the attempts run
// out. It never retries what may have been accepted: a transport error, an
// HTTP 5xx, an answer cut short, an unreadable answer.
//
// After MAX_USER_TURN (the provider refuses every submit of the key for
// 10 s) it holds every submit that passes through it for those 10 s, not
// only the one that got the answer.
//
// The request body is replayed byte for byte on each retry, through
// GetBody when the request has it, otherwise from a copy made once, up to
// MaxReplayBody bytes (a longer body is sent once, never retried).
//
// SlotRetry alone neither paces nor breaks; Transport adds both. The zero
// value uses the Backoff defaults. Its fields must not change after its
// first use.
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

func (s *SlotRetry) base() http.RoundTripper { return baseOr(s.Base) }

// RoundTrip implements http.RoundTripper.
func (s *SlotRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	if !IsSubmit(req) {
		return s.base().RoundTrip(req)
	}
	s.once.Do(func() {
		s.err = s.Backoff.validate("Backoff")
		if s.err == nil && s.MaxReplayBody < 0 {
			s.err = fieldError("MaxReplayBody", s.MaxReplayBody, "must not be negative")
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

// attempt sends one attempt, after any MAX_USER_TURN hold.
func (s *SlotRetry) attempt(ctx context.Context, req *http.Request, _ string) (*http.Response, action, error) {
	if _, err := s.r.hold.wait(ctx); err != nil {
		closeBody(req)
		return nil, action{}, notSent(err)
	}
	s.stats.attempts.Add(1)
	resp, err := s.base().RoundTrip(req)
	if err != nil {
		return nil, action{}, err
	}
	resp, act := inspect(resp, s.Provider, nil)
	return resp, act, nil
}

// Breaker is an http.RoundTripper that fails submits fast through a
// persistent slot outage. It reads each submit's answer: NO_SLOT counts as a
// failure, an accepted task as a success, anything else as neither. When CB
// opens, submits fail at once with an error matching ErrCircuitOpen (and
// ErrNotSent), without touching the network; after CB's timeout one probe
// goes through: accepted closes it, NO_SLOT opens it again. A ban answer
// (ERROR: 1001, 1002, 1003) holds the breaker open for the ban's published
// length whatever CB says. Answers are handed back to the caller byte for
// byte.
//
// The zero value honours bans only. Build CB with BreakerSettings, or use
// NewBreaker; CB may be shared between Breakers, so that several clients
// with one API key see one outage. CB must not change after first use.
type Breaker struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// CB counts NO_SLOT answers; nil means no breaker beyond the bans. A
	// breaker not built with BreakerSettings counts neutral answers (and
	// cancelled attempts) as failures.
	CB *gobreaker.TwoStepCircuitBreaker[struct{}]
	// Provider selects how provider-specific answers are read.
	Provider Provider

	once sync.Once
	b    *breaker
}

// NewBreaker returns a Breaker over base with a breaker built from cfg (see
// BreakerSettings). It reports an error naming the field when cfg is
// invalid.
func NewBreaker(base http.RoundTripper, cfg BreakerConfig) (*Breaker, error) {
	if err := cfg.validate("BreakerConfig"); err != nil {
		return nil, err
	}
	b := newBreaker(cfg, 1)
	return &Breaker{Base: base, CB: b.cb, b: b}, nil
}

func (b *Breaker) base() http.RoundTripper { return baseOr(b.Base) }

// core returns the breaker component, built over CB on first use unless
// NewBreaker built it.
func (b *Breaker) core() *breaker {
	b.once.Do(func() {
		if b.b == nil {
			b.b = &breaker{cb: b.CB}
		}
	})
	return b.b
}

// RoundTrip implements http.RoundTripper.
func (b *Breaker) RoundTrip(req *http.Request) (*http.Response, error) {
	if !IsSubmit(req) {
		return b.base().RoundTrip(req)
	}
	br := b.core()
	done, err := br.allow("")
	if err != nil {
		closeBody(req)
		return nil, notSent(err)
	}
	resp, err := b.base().RoundTrip(req)
	if err != nil {
		done(errNeutral)
		return nil, err
	}
	resp, act := inspect(resp, b.Provider, nil)
	br.report(done, act)
	return resp, nil
}

// Limit is an http.RoundTripper that bounds how many submit attempts are in
// flight at once. An attempt is in flight from the moment it holds a unit
// of Sem until its response body has been read to the end or closed, or
// its RoundTrip has failed.
//
// The zero value passes everything through unbounded. Sem may be shared
// between Limits, and with any other user of the same *semaphore.Weighted.
// Sem must not change after first use.
type Limit struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Sem bounds submit attempts in flight, one unit each; nil means no
	// bound.
	Sem *semaphore.Weighted

	once sync.Once
	b    bound
}

func (l *Limit) base() http.RoundTripper { return baseOr(l.Base) }

// RoundTrip implements http.RoundTripper. A wait that ends with the
// request's context fails with an error that matches ErrNotSent and the
// context's error.
func (l *Limit) RoundTrip(req *http.Request) (*http.Response, error) {
	if !IsSubmit(req) || l.Sem == nil {
		return l.base().RoundTrip(req)
	}
	l.once.Do(func() { l.b.sem = l.Sem })
	if _, err := l.b.acquire(req.Context()); err != nil {
		closeBody(req)
		return nil, notSent(err)
	}
	resp, err := l.base().RoundTrip(req)
	if err != nil {
		l.b.release()
		return nil, err
	}
	resp.Body = &answerBody{rest: resp.Body, rel: &l.b}
	return resp, nil
}
