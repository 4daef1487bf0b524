package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slotguard/slotguard"
)

// Whose failure an answer in the proxy's own words reports: the metrics
// count them apart (issue 11).
const (
	// sideClient: the client's own failure. It went away, stalled its
	// body past -read-timeout, sent too much, or asked for what the
	// provider's API never takes.
	sideClient = "client"
	// sideProxy: the proxy refused and sent nothing upstream; the client
	// may send the same request again.
	sideProxy = "proxy"
	// sideUpstream: the request left, and the provider failed, or was too
	// slow; for a submit, the task may have been accepted and billed.
	sideUpstream = "upstream"
)

// statusClientGone is the status counted (and written, to nobody) when the
// client went away before its answer: nginx's 499.
const statusClientGone = 499

// failure is an answer in the proxy's own words.
type failure struct {
	status     int
	side, kind string // kind is the X-Slotproxy-Error value
	msg        string
	retryAfter time.Duration
	jsonForm   bool // the request's form says json=1, though it was not kept (queue-full)
}

// levelOf is the log level of a failure on side: info for the client's
// own (a client that gives up or sends what the API never takes is no
// fault of the proxy's or the provider's), warn for the others.
func levelOf(side string) slog.Level {
	if side == sideClient {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// errorHandler answers a request that got no answer from upstream, in the
// proxy's own words (text/plain, with an X-Slotproxy-Error header naming
// the kind), never in the provider's: a client must not mistake it for a
// provider's answer.
func (p *proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	f := p.failure(r, err)
	if slotguard.IsSubmit(r) && f.side == sideUpstream {
		// The provider may have accepted and billed the task.
		f.msg += "; the task may have been accepted: do not resubmit blindly"
	}
	p.logger.Log(r.Context(), levelOf(f.side), "slotproxy: request failed", "method", r.Method, "path", redact(r.URL.Path),
		"status", f.status, "kind", f.kind, "error", redact(cause(err).Error()))
	p.failOrRefuse(w, r, f, err)
}

// failOrRefuse writes f, a submit never sent in the provider's dialect
// under -refusal dialect (refuse), anything else in the proxy's own words
// (fail).
func (p *proxy) failOrRefuse(w http.ResponseWriter, r *http.Request, f failure, err error) {
	if p.refusal == refuseDialect {
		if code := refusalCode(r, f, err); code != "" {
			p.refuse(w, r, f, code)
			return
		}
	}
	p.fail(w, f)
}

// failure tells what err, the error of r's round trip, means for the
// client.
func (p *proxy) failure(r *http.Request, err error) failure {
	var open *slotguard.OpenError
	// The context the attempts travelled with: the -max-wait deadline
	// ends waits, never an attempt (sentBase).
	sent := sentContext(r)
	switch {
	case sent.Err() == context.Canceled:
		// The client went away (its connection closed): its own doing,
		// never a 502 of the upstream's (issue 11).
		return failure{status: statusClientGone, side: sideClient, kind: "client-gone", msg: "the client went away"}
	case errors.Is(err, slotguard.ErrCircuitOpen):
		// Nothing was sent: the breaker is open (an outage, or a ban).
		f := failure{status: http.StatusServiceUnavailable, side: sideProxy, kind: "circuit-open",
			msg: "slotguard circuit open: nothing was sent", retryAfter: time.Second}
		if errors.As(err, &open) && !open.Until.IsZero() {
			f.retryAfter = max(time.Until(open.Until), time.Second)
		}
		return f
	case errors.Is(err, slotguard.ErrNotSent):
		// No attempt left slotguard, or every one that did was refused
		// (NO_SLOT): the provider cannot have accepted the task. Before
		// issue 11 the pacer's "next token after the deadline" passed for
		// an upstream failure, and a wait ended by -request-timeout for a
		// 504 that may have been accepted.
		return failure{status: http.StatusServiceUnavailable, side: sideProxy, kind: "not-sent",
			msg:        "nothing was sent to the provider (" + redact(cause(err).Error()) + "): safe to send again",
			retryAfter: p.nextOpening()}
	case errors.Is(err, errResponseTooLarge):
		return failure{status: http.StatusBadGateway, side: sideUpstream, kind: "response-too-large", msg: err.Error()}
	case sent.Err() == context.DeadlineExceeded:
		return failure{status: http.StatusGatewayTimeout, side: sideUpstream, kind: "timeout", msg: "no answer within -request-timeout"}
	case errors.Is(err, errAnswerCut):
		return failure{status: http.StatusBadGateway, side: sideUpstream, kind: "answer-cut", msg: "the provider's answer was cut short"}
	}
	return failure{status: http.StatusBadGateway, side: sideUpstream, kind: "upstream", msg: "no answer from the provider"}
}

// nextOpening guesses when a submit refused unsent may come back: one
// pacer interval at the current rate, from a second to an hour.
func (p *proxy) nextOpening() time.Duration {
	rate := p.tr.Stats().Rate
	if rate <= 0 || math.IsInf(rate, 1) || math.IsNaN(rate) {
		return time.Second
	}
	return time.Duration(min(max(float64(time.Second)/rate, float64(time.Second)), float64(time.Hour)))
}

// fail writes f, the proxy's own answer, and notes it in w when w is the
// request's recorder.
func (p *proxy) fail(w http.ResponseWriter, f failure) {
	if rec, ok := w.(*recorder); ok {
		rec.side, rec.kind = f.side, f.kind
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Slotproxy-Error", f.kind)
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((f.retryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(f.status)
	io.WriteString(w, "slotproxy: "+f.msg+"\n")
}

// cause strips a *url.Error, whose text holds the URL with its query.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// tooLarge is the answer to a request body over -max-request-body.
func tooLarge(limit int64) *failure {
	return &failure{status: http.StatusRequestEntityTooLarge, side: sideClient, kind: "request-too-large",
		msg: fmt.Sprintf("request body over %d bytes", limit)}
}
