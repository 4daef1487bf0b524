package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slotguard/slotguard"
)

// How the proxy refuses a submit it never sent (-refusal).
const (
	// refuseDialect answers as the provider answers NO_SLOT (or the ban
	// that holds the breaker open), in the request's own format: clients
	// handle exactly what the provider says and nothing else (issue 15:
	// the guide's loop calls resp.json() on every answer, and a text 503
	// raised in it).
	refuseDialect = "dialect"
	// refuseHTTP answers 503 with Retry-After in the proxy's own words,
	// for clients written for it.
	refuseHTTP = "http"
)

// sentKey is the context key of a submit's context without the -max-wait
// deadline: the one its attempts travel with once sent.
type sentKey struct{}

// withMaxWait bounds the waits of a submit before it leaves the proxy
// (thread permit, breaker, ban budget, pacer, in-flight bound, backoff) by
// maxWait, and keeps ctx for the attempts themselves (see sentBase).
//
// slotguard ends each of those waits with an error matching
// slotguard.ErrNotSent when the deadline comes (the pacer at once when its
// next token comes after it), and hands back the last NO_SLOT answer when
// the next attempt would come after it.
func withMaxWait(ctx context.Context, maxWait time.Duration) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithTimeout(ctx, maxWait)
	return context.WithValue(wctx, sentKey{}, ctx), cancel
}

// sentContext is the context r's attempts travel with: without the
// -max-wait deadline, still ended by the client leaving and by
// -request-timeout.
func sentContext(r *http.Request) context.Context {
	if ctx, ok := r.Context().Value(sentKey{}).(context.Context); ok {
		return ctx
	}
	return r.Context()
}

// sentBase sends slotguard's attempts upstream with the submit's context
// without the -max-wait deadline: an attempt on the wire may be accepted
// and billed, so it is always waited for (up to -request-timeout), never
// abandoned at -max-wait (issue 15).
type sentBase struct{ base http.RoundTripper }

func (b sentBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if ctx := sentContext(req); ctx != req.Context() {
		req = req.WithContext(ctx) // a shallow copy: the caller's request is untouched
	}
	return b.base.RoundTrip(req)
}

// overrun reports whether a new submit's wait for a thread permit would
// outlast maxWait, by what the Transport knows now (the recent pace of
// releases), and how long it would be: then the proxy refuses it at once
// rather than hold it until the deadline. The pacer needs no such check:
// it fails at once when its next token comes after the deadline.
func (p *proxy) overrun() (time.Duration, bool) {
	if !p.threads || p.maxWait <= 0 {
		return 0, false
	}
	w := p.tr.Stats().Threads.ExpectedWait
	return w, w > p.maxWait
}

// overrunFailure is the refusal of a submit whose wait would outlast
// -max-wait.
func overrunFailure(retryAfter time.Duration) *failure {
	return &failure{status: http.StatusServiceUnavailable, side: sideProxy, kind: "not-sent",
		msg:        "nothing was sent to the provider (the wait for a thread would outlast -max-wait): safe to send again",
		retryAfter: retryAfter}
}

// refusalCode is the provider's code that a refusal of a submit stands
// for in -refusal dialect: the ban that holds the breaker open, else
// NO_SLOT. "" for a failure that is not a refusal of a submit.
func refusalCode(r *http.Request, f failure, err error) string {
	if !slotguard.IsSubmit(r) || f.side != sideProxy {
		return ""
	}
	switch f.kind {
	case "circuit-open":
		var open *slotguard.OpenError
		if errors.As(err, &open) && open.Code != "" {
			return open.Code
		}
	case "not-sent", "queue-full":
	default:
		return ""
	}
	return slotguard.CodeNoSlot
}

// v1Answer is in.php's json=1 answer.
type v1Answer struct {
	Status  int    `json:"status"`
	Request string `json:"request"`
}

// v2Error is createTask's error answer.
type v2Error struct {
	ErrorID          int    `json:"errorId"`
	ErrorCode        string `json:"errorCode"`
	ErrorDescription string `json:"errorDescription"`
}

// refuse writes f as the provider would answer code to r: plain text, or
// {"status":0,"request":code} with json=1 (in the query or the form), or
// createTask's {"errorId":...,"errorCode":code,...}. It is marked as the
// proxy's own by X-Slotproxy-Error, and counted as f.kind.
func (p *proxy) refuse(w http.ResponseWriter, r *http.Request, f failure, code string) {
	if rec, ok := w.(*recorder); ok {
		rec.side, rec.kind, rec.refused = f.side, f.kind, code
	}
	var body []byte
	ctype := "application/json"
	switch {
	case strings.HasSuffix(r.URL.Path, "/createTask"):
		// errorId 2 is NO_SLOT in the v2 API; its tables have no id for
		// the v1 bans, which answer errorId 21 (blocked) with the v1 code,
		// as captchaaitest does.
		id := 21
		if code == slotguard.CodeNoSlot {
			id = 2
		}
		body, _ = json.Marshal(v2Error{id, code, "slotproxy: " + f.msg})
	case f.jsonForm || jsonMode(r):
		body, _ = json.Marshal(v1Answer{0, code})
	default:
		ctype = "text/plain; charset=utf-8"
		body = []byte(code)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Slotproxy-Error", f.kind)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// jsonMode reports whether an in.php request asks for json=1 answers, in
// its query or its form (the form wins, as in net/http and PHP).
func jsonMode(r *http.Request) bool { return formValue(r, "json") == "1" }
