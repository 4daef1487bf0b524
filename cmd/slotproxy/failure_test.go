package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// memUpstream is an in-memory upstream, for synctest bubbles: it counts
// the requests and answers each with answer.
type memUpstream struct {
	n      atomic.Int64
	answer func(*http.Request) *http.Response
}

func (u *memUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.n.Add(1)
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	resp := u.answer(req)
	resp.Request = req
	return resp, nil
}

// answer is a plain 200 answer with body.
func answer(body string) func(*http.Request) *http.Response {
	return func(*http.Request) *http.Response {
		return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body))}
	}
}

// memProxy is slotproxy with args, in memory, in front of base: its
// handler, as the main listener serves it.
func memProxy(t *testing.T, base http.RoundTripper, edit func(*options), args ...string) http.Handler {
	t.Helper()
	o, err := parseFlags(append([]string{"-upstream", "http://provider.test"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.base = base
	if edit != nil {
		edit(o)
	}
	p, err := newProxy(o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return p.handler(true)
}

// submitAll sends n submits to h at once and returns their answers.
func submitAll(h http.Handler, n int) []*httptest.ResponseRecorder {
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range recs {
		recs[i] = httptest.NewRecorder()
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/in.php", strings.NewReader(recaptcha().Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			h.ServeHTTP(recs[i], req)
		})
	}
	wg.Wait()
	return recs
}

// byStatus counts answers by status and X-Slotproxy-Error.
func byStatus(recs []*httptest.ResponseRecorder) map[string]int {
	m := make(map[string]int)
	for _, r := range recs {
		m[strings.TrimSpace(http.StatusText(r.Code)+" "+r.Header().Get("X-Slotproxy-Error"))]++
	}
	return m
}

// Submits that never left the proxy are answered as safe to send again,
// and counted apart (issue 11: they were 502 upstream, or 504 "may have
// been accepted").
func TestNotSent(t *testing.T) {
	t.Run("pacer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := &memUpstream{answer: answer("OK|1")}
			h := memProxy(t, up, nil, "-rate", "0.1", "-request-timeout", "5s", "-refusal", "http")
			start := time.Now()
			recs := submitAll(h, 3)
			// The pacer's next token comes in 10 s, after the deadline: it
			// says so at once.
			if d := time.Since(start); d != 0 {
				t.Errorf("the submits took %v, want 0", d)
			}
			checkNotSent(t, h, recs, up, "10")
		})
	})
	t.Run("budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := &memUpstream{answer: answer("OK|1")}
			h := memProxy(t, up, func(o *options) { o.cfg.Budget.SubmitsPer3s = 1 },
				"-rate", "+Inf", "-request-timeout", "1s", "-refusal", "http")
			start := time.Now()
			recs := submitAll(h, 3)
			// Two wait in the ban budget for the next 3 s window, and
			// -request-timeout ends the wait.
			if d := time.Since(start); d != time.Second {
				t.Errorf("the submits took %v, want 1s", d)
			}
			checkNotSent(t, h, recs, up, "1")
		})
	})
}

func checkNotSent(t *testing.T, h http.Handler, recs []*httptest.ResponseRecorder, up *memUpstream, retryAfter string) {
	t.Helper()
	if got := byStatus(recs); got["OK"] != 1 || got["Service Unavailable not-sent"] != 2 {
		t.Errorf("answers %v, want 1 OK and 2 Service Unavailable not-sent", got)
	}
	for _, r := range recs {
		if r.Code != http.StatusOK {
			if body := r.Body.String(); !strings.Contains(body, "safe to send again") || strings.Contains(body, "may have been accepted") {
				t.Errorf("refusal says %q, want it safe to send again", body)
			}
			if ra := r.Header().Get("Retry-After"); ra != retryAfter {
				t.Errorf("Retry-After %q, want %q", ra, retryAfter)
			}
		}
	}
	if n := up.n.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
	m := httptest.NewRecorder()
	h.ServeHTTP(m, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := `slotproxy_errors_total{endpoint="in.php",kind="not-sent",side="proxy"} 2`
	if !strings.Contains(m.Body.String(), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, counts(m.Body.String()))
	}
}
