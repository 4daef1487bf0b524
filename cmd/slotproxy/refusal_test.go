package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// format is a submit in one of the provider's request formats, and the
// answer the provider gives to it for code.
type format struct {
	name, path, ctype, body string
	query                   string
	answer                  func(code string) string
}

var (
	textAnswer = func(code string) string { return code }
	v1JSON     = func(code string) string { return `{"status":0,"request":"` + code + `"}` }
	v2JSON     = func(id int) func(string) string {
		return func(code string) string {
			return fmt.Sprintf(`{"errorId":%d,"errorCode":"%s","errorDescription":`, id, code)
		}
	}
)

func formats(createTaskID int) []format {
	form := recaptcha().Encode()
	return []format{
		{"text", "/in.php", "application/x-www-form-urlencoded", form, "", textAnswer},
		{"json=1 in the query", "/in.php", "application/x-www-form-urlencoded", form, "?json=1", v1JSON},
		{"json=1 in the form", "/in.php", "application/x-www-form-urlencoded", form + "&json=1", "", v1JSON},
		{"json=1 in a multipart form", "/in.php", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n" + key + "\r\n" +
				"--XX\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nuserrecaptcha\r\n" +
				"--XX\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n1\r\n--XX--\r\n", "", v1JSON},
		{"createTask", "/createTask", "application/json",
			`{"clientKey":"` + key + `","task":{"type":"RecaptchaV2TaskProxyless","websiteURL":"https://example.com","websiteKey":"x"}}`,
			"", v2JSON(createTaskID)},
	}
}

// send makes f's request to h and returns the answer.
func (f format) send(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, f.path+f.query, strings.NewReader(f.body))
	req.Header.Set("Content-Type", f.ctype)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkRefused checks that rec is the proxy's refusal of kind, in f's
// dialect, as the provider answers code.
func checkRefused(t *testing.T, f format, rec *httptest.ResponseRecorder, kind, code string) {
	t.Helper()
	body := rec.Body.String()
	want := f.answer(code)
	exact := !strings.HasSuffix(want, ":")
	if rec.Code != http.StatusOK || rec.Header().Get("X-Slotproxy-Error") != kind ||
		exact && body != want || !exact && !strings.HasPrefix(body, want) {
		t.Errorf("%s: refusal = %d %q, X-Slotproxy-Error %q; want 200 %q, %s",
			f.name, rec.Code, body, rec.Header().Get("X-Slotproxy-Error"), want, kind)
	}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(want, "{") != strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q for %q", f.name, ct, body)
	}
}

// A submit that cannot leave within -max-wait is answered at once, as the
// provider answers NO_SLOT, in the request's own format (issue 15: the
// guide's client timed out after 30 s in the queue, or failed to decode a
// text 503).
func TestMaxWaitRefusesInDialect(t *testing.T) {
	for _, f := range formats(2) {
		t.Run(f.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := &memUpstream{answer: answer("OK|1")}
				h := memProxy(t, up, nil, "-rate", "0.1", "-max-wait", "5s")
				if rec := f.send(h); rec.Code != http.StatusOK || rec.Header().Get("X-Slotproxy-Error") != "" {
					t.Fatalf("first submit = %d %q, want the upstream's answer", rec.Code, rec.Body)
				}
				start := time.Now()
				// The pacer's next token comes in 10 s, past -max-wait.
				rec := f.send(h)
				if d := time.Since(start); d != 0 {
					t.Errorf("refusal took %v, want 0", d)
				}
				checkRefused(t, f, rec, "not-sent", slotNoSlot)
				if n := up.n.Load(); n != 1 {
					t.Errorf("upstream saw %d requests, want 1", n)
				}
				ep := strings.TrimPrefix(f.path, "/")
				if got, want := metricsLine(h, `slotproxy_refusals_total{code="ERROR_NO_SLOT_AVAILABLE",endpoint="`+ep),
					`slotproxy_refusals_total{code="ERROR_NO_SLOT_AVAILABLE",endpoint="`+ep+`",kind="not-sent"} 1`; got != want {
					t.Errorf("%s, want %s", got, want)
				}
			})
		})
	}
}

// The ban budget's wait and the thread permits' wait end at -max-wait.
func TestMaxWaitEndsWaits(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"budget", []string{"-rate", "+Inf", "-budget-submits-per-3s", "1"}},
		{"threads", []string{"-rate", "+Inf", "-threads", "-threads-plan", "1", "-threads-overbook", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var id atomic.Int64
				up := &memUpstream{answer: func(r *http.Request) *http.Response {
					return answer(fmt.Sprintf("OK|%d", id.Add(1)))(r)
				}}
				h := memProxy(t, up, nil, append(tc.args, "-max-wait", "3s", "-request-timeout", "1m")...)
				start := time.Now()
				recs := submitAll(h, 4)
				if d := time.Since(start); d != 3*time.Second {
					t.Errorf("the submits took %v, want 3s", d)
				}
				got := byStatus(recs)
				if got["OK not-sent"] == 0 || got["OK"]+got["OK not-sent"] != 4 || int64(got["OK"]) != up.n.Load() {
					t.Errorf("answers %v, upstream saw %d; want the ones sent OK, the others refused not-sent", got, up.n.Load())
				}
				for _, r := range recs {
					if r.Header().Get("X-Slotproxy-Error") != "" && r.Body.String() != slotNoSlot {
						t.Errorf("refusal %q, want %s", r.Body, slotNoSlot)
					}
				}
			})
		})
	}
}

// An attempt on the wire is waited for past -max-wait, and its answer
// handed back: it may have been accepted and billed (issue 15).
func TestMaxWaitNeverAbandonsAnAttempt(t *testing.T) {
	for _, tc := range []struct{ name, upstream string }{
		{"accepted", "OK|1"},
		// The next attempt would come after -max-wait: the provider's own
		// NO_SLOT is handed back, not the proxy's.
		{"no slot", slotNoSlot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := &memUpstream{answer: func(r *http.Request) *http.Response {
					select {
					case <-time.After(30 * time.Second):
						return answer(tc.upstream)(r)
					case <-r.Context().Done():
						return answer("cut: " + r.Context().Err().Error())(r)
					}
				}}
				h := memProxy(t, up, nil, "-max-wait", "5s", "-request-timeout", "1m")
				start := time.Now()
				rec := formats(2)[0].send(h)
				if d := time.Since(start); d != 30*time.Second {
					t.Errorf("submit took %v, want 30s", d)
				}
				if rec.Code != http.StatusOK || rec.Body.String() != tc.upstream || rec.Header().Get("X-Slotproxy-Error") != "" {
					t.Errorf("submit = %d %q %q, want the upstream's %q", rec.Code, rec.Body, rec.Header().Get("X-Slotproxy-Error"), tc.upstream)
				}
				if n := up.n.Load(); n != 1 {
					t.Errorf("upstream saw %d requests, want 1", n)
				}
			})
		})
	}
}

// -request-timeout still ends an attempt on the wire past -max-wait: 504,
// may have been accepted.
func TestMaxWaitThenRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &memUpstream{}
		up.answer = func(r *http.Request) *http.Response {
			<-r.Context().Done()
			return nil
		}
		h := memProxy(t, errorUpstream{up}, nil, "-max-wait", "5s", "-request-timeout", "20s")
		rec := formats(2)[0].send(h)
		if rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), "may have been accepted") {
			t.Errorf("submit = %d %q, want 504 saying it may have been accepted", rec.Code, rec.Body)
		}
	})
}

// errorUpstream fails with the request's context error once answer returns
// nil.
type errorUpstream struct{ u *memUpstream }

func (e errorUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	e.u.n.Add(1)
	if resp := e.u.answer(req); resp != nil {
		return resp, nil
	}
	return nil, req.Context().Err()
}

// While the breaker is open, a submit is refused in the provider's
// dialect: NO_SLOT after a NO_SLOT run, the ban's own code after a ban
// (issue 15: a text 503 raised in clients that call resp.json()).
func TestCircuitOpenInDialect(t *testing.T) {
	for _, tc := range []struct {
		name, first, code string
		createTaskID      int
	}{
		{"no slot run", slotNoSlot, slotNoSlot, 2},
		{"ban", "ERROR: 1001", "ERROR: 1001", 21},
	} {
		for _, f := range formats(tc.createTaskID) {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				up := &memUpstream{answer: answer(tc.first)}
				h := memProxy(t, up, nil, "-attempts", "1", "-breaker-failures", "1", "-rate", "+Inf")
				formats(0)[0].send(h) // opens the breaker
				checkRefused(t, f, f.send(h), "circuit-open", tc.code)
				if n := up.n.Load(); n != 1 {
					t.Errorf("upstream saw %d requests, want 1", n)
				}
			})
		}
	}
}

// -refusal http keeps the 503 with Retry-After, in the proxy's words.
func TestRefusalHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &memUpstream{answer: answer("OK|1")}
		h := memProxy(t, up, nil, "-rate", "0.1", "-max-wait", "5s", "-refusal", "http")
		f := formats(2)[2] // json=1: still the proxy's text 503
		f.send(h)
		rec := f.send(h)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Slotproxy-Error") != "not-sent" ||
			rec.Header().Get("Retry-After") != "10" || !strings.HasPrefix(rec.Body.String(), "slotproxy: ") {
			t.Errorf("refusal = %d %q, Retry-After %q; want 503 not-sent, 10", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	})
}

// Every knob is a flag, with its default in -h, and a bad value names the
// flag (issue 15).
func TestKnobFlags(t *testing.T) {
	var stderr strings.Builder
	if code := run(t.Context(), []string{"-h"}, io.Discard, &stderr); code != 0 {
		t.Fatalf("run(-h) = %d", code)
	}
	help := stderr.String()
	for _, want := range []string{
		"-max-wait duration", "(default 25s)", "-refusal string", `(default "dialect")`,
		"-budget-noslot-per-minute", "-budget-submits-per-3s", "-adaptive", "-adaptive-floor",
		"-adaptive-decrease", "-adaptive-increase", "-schedule", "-poll-first", "-poll-first-slow", "-poll-every",
		"-threads", "-threads-plan", "-threads-overbook", "-threads-ceiling", "-redis address", "-redis-key key",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for ok
	}{
		{[]string{"-max-wait", "-1s"}, "-max-wait"},
		{[]string{"-max-wait", "0"}, ""},
		{[]string{"-refusal", "json"}, "-refusal"},
		{[]string{"-budget-noslot-per-minute", "unlimited", "-budget-submits-per-3s", "40"}, ""},
		{[]string{"-budget-noslot-per-minute", "-3"}, "-budget-noslot-per-minute"},
		{[]string{"-adaptive", "-adaptive-decrease", "0.5", "-adaptive-floor", "0.2", "-adaptive-increase", "0.1"}, ""},
		{[]string{"-adaptive-decrease", "1"}, "-adaptive-decrease"},
		{[]string{"-adaptive-floor", "-1"}, "-adaptive-floor"},
		{[]string{"-adaptive", "-rate", "+Inf"}, "-adaptive"},
		{[]string{"-schedule", "published:4,2,1"}, ""},
		{[]string{"-schedule", strings.Repeat("1,", 23) + "2"}, ""},
		{[]string{"-schedule", "published:4,2"}, "-schedule"},
		{[]string{"-schedule", "1,2,3"}, "-schedule"},
		{[]string{"-schedule", "published:4,-2,1"}, "-schedule"},
		{[]string{"-pace-polls", "-poll-first", "3s", "-poll-first-slow", "10s", "-poll-every", "4s"}, ""},
		{[]string{"-poll-every", "-1s"}, "-poll-every"},
		{[]string{"-threads", "-threads-plan", "5", "-threads-overbook", "1", "-threads-ceiling", "3m"}, ""},
		{[]string{"-threads-plan", "-1"}, "-threads-plan"},
		{[]string{"-threads-ceiling", "-1m"}, "-threads-ceiling"},
		{[]string{"-redis", "127.0.0.1:6379"}, "-redis-key"},
	} {
		var stderr strings.Builder
		_, err := parseFlags(tc.args, &stderr)
		msg := stderr.String()
		if err != nil {
			msg += err.Error()
		}
		if (err == nil) != (tc.want == "") || tc.want != "" && !strings.Contains(msg, tc.want) {
			t.Errorf("parseFlags(%q) = %v (%q), want an error naming %q (none if empty)", tc.args, err, stderr.String(), tc.want)
		}
	}
	o, err := parseFlags([]string{"-schedule", "published:4,2,1", "-budget-submits-per-3s", "unlimited"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := o.cfg.Schedule; s[0] != 4 || s[6] != 2 || s[12] != 1 || s[18] != 2 {
		t.Errorf("-schedule published:4,2,1 = %v", s)
	}
	if n := o.cfg.Budget.SubmitsPer3s; n != int(^uint(0)>>1) {
		t.Errorf("-budget-submits-per-3s unlimited = %d", n)
	}
}

// A submit whose wait for a thread permit would outlast -max-wait, at the
// recent pace of releases, is refused at once rather than at the deadline.
func TestMaxWaitThreadsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		up := &memUpstream{answer: func(r *http.Request) *http.Response {
			if i := n.Add(1); i > 2 {
				return answer(fmt.Sprintf("OK|%d", i))(r)
			}
			return answer("ERROR_WRONG_USER_KEY")(r) // not accepted: its permit goes back at once
		}}
		h := memProxy(t, up, nil, "-rate", "+Inf", "-threads", "-threads-plan", "1", "-threads-overbook", "1",
			"-max-wait", "5s", "-request-timeout", "1m")
		f := formats(2)[0]
		f.send(h)
		time.Sleep(100 * time.Second) // releases 100 s apart: one expected every 10 s so far
		f.send(h)
		f.send(h) // two tasks hold the two permits
		f.send(h)
		start := time.Now()
		rec := f.send(h)
		if d := time.Since(start); d != 0 {
			t.Errorf("refusal took %v, want 0", d)
		}
		checkRefused(t, f, rec, "not-sent", slotNoSlot)
		if got := n.Load(); got != 4 {
			t.Errorf("upstream saw %d requests, want 4", got)
		}
	})
}

// A submit refused queue-full is answered in its own format too: json=1 in
// a form that is never held is found as it streams past.
func TestQueueFullInDialect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &memUpstream{answer: func(r *http.Request) *http.Response {
			time.Sleep(30 * time.Second) // the first submit holds its body
			return answer("OK|1")(r)
		}}
		h := memProxy(t, up, nil, "-max-request-body", "1000", "-max-queued-bytes", "1999")
		form := func(extra string) string {
			pad := 1000 - len("key=&body=") - len(key) - len(extra)
			return "key=" + key + extra + "&body=" + strings.Repeat("x", pad)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { serveMem(h, http.MethodPost, "/in.php", form(""), false) })
		synctest.Wait()
		for _, tc := range []struct {
			name, body string
			chunked    bool
			want       string
		}{
			{"text", form(""), false, slotNoSlot},
			{"json=1", form("&json=1"), false, v1JSON(slotNoSlot)},
			{"json=1 chunked", form("&json=1"), true, v1JSON(slotNoSlot)},
			{"json=1 last", form("")[:990] + "&json=1", true, v1JSON(slotNoSlot)},
			{"json=10", form("&json=10"), false, slotNoSlot},
			{"x=json=1", form("&x=json=1"), false, slotNoSlot},
		} {
			rec := serveMem(h, http.MethodPost, "/in.php", tc.body, tc.chunked)
			if rec.Code != http.StatusOK || rec.Body.String() != tc.want || rec.Header().Get("X-Slotproxy-Error") != "queue-full" {
				t.Errorf("%s: submit past the bound = %d %q %q, want 200 %q queue-full",
					tc.name, rec.Code, rec.Body, rec.Header().Get("X-Slotproxy-Error"), tc.want)
			}
		}
		if n := up.n.Load(); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
	})
}
