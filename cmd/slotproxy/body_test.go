package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// metricsLine returns the line of h's /metrics that starts with name.
func metricsLine(h http.Handler, name string) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, name) {
			return l
		}
	}
	return ""
}

// serveMem makes one request of method to h, with body (chunked when chunked)
// and returns the answer.
func serveMem(h http.Handler, method, path, body string, chunked bool) *httptest.ResponseRecorder {
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known: ContentLength -1
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The bodies of the requests inside the proxy are bounded in all (issue
// 11: 400 queued submits of 1 MiB took 581 MB): past -max-queued-bytes a
// request is refused at once, nothing sent, and the bytes are given back
// when requests end.
func TestMaxQueuedBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &memUpstream{answer: func(*http.Request) *http.Response {
			time.Sleep(30 * time.Second) // the first submit stays in flight
			return answer("OK|1")(nil)
		}}
		h := memProxy(t, up, nil, "-rate", "0.1", "-request-timeout", "1m", "-refusal", "http",
			"-max-request-body", "1000", "-max-queued-bytes", "3001")
		form := "key=" + key + "&body=" + strings.Repeat("x", 1000-len("key=&body=")-len(key))
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				// One in flight, two waiting for the pacer (10 s, 20 s).
				if rec := serveMem(h, http.MethodPost, "/in.php", form, i == 2); rec.Code != http.StatusOK {
					t.Errorf("submit %d = %d %q, want 200", i, rec.Code, rec.Body)
				}
			})
		}
		synctest.Wait()
		// The chunked body holds its buffer, 512 bytes then 489 more: one
		// past -max-request-body, where a longer body would show.
		if got, want := metricsLine(h, "slotproxy_request_bytes_held"), "slotproxy_request_bytes_held 3001"; got != want {
			t.Errorf("%s, want %s", got, want)
		}
		start := time.Now()
		for _, chunked := range []bool{false, true} {
			rec := serveMem(h, http.MethodPost, "/in.php", form, chunked)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Slotproxy-Error") != "queue-full" ||
				!strings.Contains(rec.Body.String(), "safe to send again") || rec.Header().Get("Retry-After") == "" {
				t.Errorf("submit past the bound (chunked %v) = %d %q %q, want 503 queue-full, safe to send again, with Retry-After",
					chunked, rec.Code, rec.Header().Get("X-Slotproxy-Error"), rec.Body)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the refusals took %v, want 0", d)
		}
		// A request without a body holds nothing and passes.
		if rec := serveMem(h, http.MethodGet, "/res.php?action=getbalance", "", false); rec.Code != http.StatusOK {
			t.Errorf("poll = %d, want 200", rec.Code)
		}
		wg.Wait()
		if got, want := metricsLine(h, "slotproxy_request_bytes_held"), "slotproxy_request_bytes_held 0"; got != want {
			t.Errorf("%s after the requests ended, want %s", got, want)
		}
		if got, want := metricsLine(h, `slotproxy_errors_total{endpoint="in.php",kind="queue-full"`),
			`slotproxy_errors_total{endpoint="in.php",kind="queue-full",side="proxy"} 2`; got != want {
			t.Errorf("%s, want %s", got, want)
		}
		if n := up.n.Load(); n != 4 {
			t.Errorf("upstream saw %d requests, want 4: the 3 submits and the poll", n)
		}
	})
}
