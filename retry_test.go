package slotguard

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestAnswersRetried: which answers are retried, in every format, and that a
// body that only mentions NO_SLOT is not.
func TestAnswersRetried(t *testing.T) {
	tests := []struct {
		name     string
		provider Provider
		status   int
		body     string
		attempts int
	}{
		{"text", CaptchaAI, 200, "ERROR_NO_SLOT_AVAILABLE", 2},
		{"text with spaces", CaptchaAI, 200, " \r\nERROR_NO_SLOT_AVAILABLE\n", 2},
		{"json", CaptchaAI, 200, `{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`, 2},
		{"createTask", CaptchaAI, 200, `{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"No idle workers"}`, 2},
		{"zero balance on CaptchaAI", CaptchaAI, 200, "ERROR_ZERO_BALANCE", 2},
		{"zero balance on 2captcha", TwoCaptcha, 200, "ERROR_ZERO_BALANCE", 1},
		{"mentions NO_SLOT", CaptchaAI, 200, "the answer was ERROR_NO_SLOT_AVAILABLE", 1},
		{"json mentions NO_SLOT", CaptchaAI, 200, `{"status":0,"request":"ERROR_WRONG_USER_KEY","note":"ERROR_NO_SLOT_AVAILABLE"}`, 1},
		{"json accepted", CaptchaAI, 200, `{"status":1,"request":"7355608"}`, 1},
		{"wrong key", CaptchaAI, 200, "ERROR_WRONG_USER_KEY", 1},
		{"bad parameters", CaptchaAI, 200, "ERROR_BAD_PARAMETERS", 1},
		{"html", CaptchaAI, 200, "<html>ERROR_NO_SLOT_AVAILABLE</html>", 1},
		{"empty", CaptchaAI, 200, "", 1},
		{"5xx saying NO_SLOT", CaptchaAI, 502, "ERROR_NO_SLOT_AVAILABLE", 1},
		{"ban", CaptchaAI, 200, "ERROR: 1001", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(func(n int, _ []byte) (int, string) {
					if n == 1 {
						return tt.status, tt.body
					}
					return 200, "OK|1"
				})
				tr := mustNew(t, memRT{s}, Config{Provider: tt.provider})
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				if got := s.hits(); got != tt.attempts {
					t.Errorf("attempts = %d, want %d", got, tt.attempts)
				}
				if tt.attempts == 1 && (body != tt.body || resp.StatusCode != tt.status) {
					t.Errorf("handed back %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
				}
			})
		})
	}
}

// TestMaxUserTurn: MAX_USER_TURN holds every submit for 10 s, not only the
// one that got it.
func TestMaxUserTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeUserTurn, "OK|1")
		tr := mustNew(t, memRT{s}, noPacing)
		start := time.Now()
		resp, err := tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("retry after MAX_USER_TURN came at %v, want 10s", got)
		}
		// A fresh submit right after is not held: the hold is over.
		s2 := answers(CodeUserTurn, "OK|1", "OK|2")
		tr2 := mustNew(t, memRT{s2}, noPacing)
		resp, _ = tr2.RoundTrip(submitReq(t))
		resp.Body.Close()
		start = time.Now()
		synctest.Wait()
		resp, err = tr2.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := time.Since(start); got != 0 {
			t.Errorf("submit after the hold waited %v, want 0", got)
		}
	})
}

// TestMaxUserTurnHoldsOthers: after MAX_USER_TURN every submit waits out the
// provider's 10 s, through a Transport and through SlotRetry alone.
func TestMaxUserTurnHoldsOthers(t *testing.T) {
	for _, stage := range []string{"Transport", "SlotRetry"} {
		t.Run(stage, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(CodeUserTurn, "OK|1")
				var rt http.RoundTripper = &SlotRetry{Base: memRT{s}}
				if stage == "Transport" {
					rt = mustNew(t, memRT{s}, noPacing)
				}
				go func() {
					resp, err := rt.RoundTrip(submitReq(t))
					if err == nil {
						resp.Body.Close()
					}
				}()
				synctest.Wait() // the first submit got MAX_USER_TURN and holds
				time.Sleep(2 * time.Second)
				start := time.Now()
				resp, err := rt.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := time.Since(start); got != 8*time.Second {
					t.Errorf("another submit waited %v, want the 8s left of the hold", got)
				}
				synctest.Wait() // the first submit's retry, due at 10 s too
				if got := len(s.attemptTimes()); got != 3 {
					t.Errorf("provider saw %d submits, want 3 (none during the hold)", got)
				}
			})
		})
	}
}

// TestCancelEachWait: cancelling the context ends the pacer, semaphore and
// backoff waits at once, with an error that matches context.Canceled.
func TestCancelEachWait(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		// busy occupies the stage before the cancelled submit.
		busy func(tr *Transport, t *testing.T)
	}{
		{"pacer", Config{Rate: 0.1}, func(tr *Transport, t *testing.T) {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}},
		{"in-flight bound", Config{Rate: math.Inf(1), MaxInFlight: 1}, func(tr *Transport, t *testing.T) {
			resp, _ := tr.RoundTrip(submitReq(t)) // held: body not closed
			t.Cleanup(func() { resp.Body.Close() })
		}},
		{"backoff", Config{}, nil},
		{"ban budget", Config{Rate: math.Inf(1), Budget: BudgetConfig{SubmitsPer3s: 1}}, func(tr *Transport, t *testing.T) {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(CodeNoSlot)
				if tt.busy != nil {
					// A long answer keeps its attempt in flight until closed.
					s = newScript(func(int, []byte) (int, string) { return 200, "OK|" + strings.Repeat("1", 2*peekLimit) })
				}
				tr := mustNew(t, memRT{s}, tt.cfg)
				if tt.busy != nil {
					tt.busy(tr, t)
				}
				ctx, cancel := context.WithCancel(context.Background())
				req := submitReq(t).WithContext(ctx)
				start := time.Now()
				time.AfterFunc(time.Second, cancel)
				_, err := tr.RoundTrip(req)
				if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNotSent) {
					t.Errorf("err = %v, want context.Canceled and ErrNotSent", err)
				}
				if got := time.Since(start); got != time.Second {
					t.Errorf("cancelled wait ended after %v, want 1s", got)
				}
			})
		})
	}
}

// TestDeadline: a deadline that falls inside a backoff wait hands back the
// last answer at once; one that falls inside the pacer's wait fails at once
// with an error matching context.DeadlineExceeded.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot)
		tr := mustNew(t, memRT{s}, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := tr.RoundTrip(submitReq(t).WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != CodeNoSlot || time.Since(start) != 3*time.Second || s.hits() != 2 {
			t.Errorf("got %q after %v and %d attempts, want NO_SLOT after 3s and 2", got, time.Since(start), s.hits())
		}

		slow := mustNew(t, memRT{answers("OK|1")}, Config{Rate: 0.1})
		resp, _ = slow.RoundTrip(submitReq(t))
		resp.Body.Close()
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = slow.RoundTrip(submitReq(t).WithContext(ctx))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("pacer past the deadline: err = %v, want DeadlineExceeded", err)
		}
	})
}

// TestRetryAfter: a 429 with Retry-After is retried after it, capped by
// Backoff.Max; without it, it is handed back. A 503 is always handed back,
// Retry-After or not: a gateway's 503 may follow an origin that took the
// task (issue 11).
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   string
		attempts int
		wait     time.Duration
	}{
		{"503 seconds", 503, "7", 1, 0},
		{"503 HTTP date", 503, "Sat, 01 Jan 2000 00:00:09 GMT", 1, 0},
		{"429 seconds", 429, "2", 2, 2 * time.Second},
		{"capped", 429, "3600", 2, 15 * time.Second},
		{"HTTP date", 429, "Sat, 01 Jan 2000 00:00:09 GMT", 2, 9 * time.Second},
		{"503 without it", 503, "", 1, 0},
		{"500 with it", 500, "5", 1, 0},
		{"garbage", 429, "soon", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Retry-After", tt.header)
					if tt.header == "" {
						w.Header().Del("Retry-After")
					}
					w.WriteHeader(tt.status)
				})
				var n atomic.Int32
				base := rtFunc(func(r *http.Request) (*http.Response, error) {
					if n.Add(1) > 1 {
						return textResp(200, "OK|1"), nil
					}
					return memRT{h}.RoundTrip(r)
				})
				tr := mustNew(t, base, noPacing)
				start := time.Now()
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if int(n.Load()) != tt.attempts || time.Since(start) != tt.wait {
					t.Errorf("%d attempts after %v, want %d after %v", n.Load(), time.Since(start), tt.attempts, tt.wait)
				}
			})
		})
	}
}

// TestNeverRetriedMayBeAccepted is the double-submit oracle: whatever goes
// wrong after the provider may have accepted the task, each logical submit
// is accepted at most once.
func TestNeverRetriedMayBeAccepted(t *testing.T) {
	errDropped := errors.New("connection reset by peer")
	tests := []struct {
		name string
		// fault answers the first attempt; later ones are accepted.
		fault func(accept func()) (*http.Response, error)
	}{
		{"accepted then dropped", func(accept func()) (*http.Response, error) {
			accept()
			return nil, errDropped
		}},
		{"transport error", func(func()) (*http.Response, error) { return nil, errDropped }},
		{"500 page", func(func()) (*http.Response, error) {
			return textResp(500, "<html>Internal Server Error</html>"), nil
		}},
		{"502 saying NO_SLOT", func(func()) (*http.Response, error) { return textResp(502, CodeNoSlot), nil }},
		{"accepted, body cut", func(accept func()) (*http.Response, error) {
			accept()
			r := textResp(200, "")
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader("OK|1"), errReader{io.ErrUnexpectedEOF}))
			return r, nil
		}},
		{"NO_SLOT, body cut", func(func()) (*http.Response, error) {
			r := textResp(200, "")
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader("ERROR_NO_"), errReader{io.ErrUnexpectedEOF}))
			return r, nil
		}},
		{"unreadable", func(accept func()) (*http.Response, error) {
			accept()
			return textResp(200, "OK, maybe"), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				accepted, attempts := 0, 0
				base := rtFunc(func(r *http.Request) (*http.Response, error) {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					mu.Lock()
					defer mu.Unlock()
					attempts++
					if attempts == 1 {
						return tt.fault(func() { accepted++ })
					}
					accepted++
					return textResp(200, "OK|2"), nil
				})
				tr := mustNew(t, base, Config{})
				resp, err := tr.RoundTrip(submitReq(t))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if accepted > 1 || attempts != 1 {
					t.Errorf("%d attempts, %d accepted; want 1 attempt and at most 1 accepted", attempts, accepted)
				}
			})
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
