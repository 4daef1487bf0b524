package slotguard

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
)

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" means valid
	}{
		{"zero", Config{}, ""},
		{"pacing off", Config{Rate: math.Inf(1)}, ""},
		{"unlimited", Config{MaxInFlight: Unlimited, Breaker: BreakerConfig{Failures: Unlimited}, Retry: Backoff{Attempts: Unlimited}}, ""},
		{"negative rate", Config{Rate: -1}, "Config.Rate"},
		{"NaN rate", Config{Rate: math.NaN()}, "Config.Rate"},
		{"negative burst", Config{Burst: -1}, "Config.Burst"},
		{"negative in flight", Config{MaxInFlight: -2}, "Config.MaxInFlight"},
		{"negative initial", Config{Retry: Backoff{Initial: -time.Second}}, "Config.Retry.Initial"},
		{"multiplier below 1", Config{Retry: Backoff{Multiplier: 0.5}}, "Config.Retry.Multiplier"},
		{"NaN multiplier", Config{Retry: Backoff{Multiplier: math.NaN()}}, "Config.Retry.Multiplier"},
		{"negative max", Config{Retry: Backoff{Max: -1}}, "Config.Retry.Max"},
		{"max below initial", Config{Retry: Backoff{Initial: 20 * time.Second}}, "Config.Retry.Max"},
		{"negative attempts", Config{Retry: Backoff{Attempts: -1}}, "Config.Retry.Attempts"},
		{"jitter above 1", Config{Retry: Backoff{Jitter: 1.5}}, "Config.Retry.Jitter"},
		{"negative failures", Config{Breaker: BreakerConfig{Failures: -1}}, "Config.Breaker.Failures"},
		{"negative open for", Config{Breaker: BreakerConfig{OpenFor: -time.Second}}, "Config.Breaker.OpenFor"},
		{"unknown provider", Config{Provider: 7}, "Config.Provider"},
		{"negative replay cap", Config{MaxReplayBody: -1}, "Config.MaxReplayBody"},
		{"time scale below 1", Config{TimeScale: 0.5}, "Config.TimeScale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, tt.cfg)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("New(%+v) = %v, want no error", tt.cfg, err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field+" ")):
				t.Fatalf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
			case err != nil && !strings.HasPrefix(err.Error(), "slotguard: "):
				t.Fatalf("New error %q lacks the slotguard: prefix", err)
			}
		})
	}
}

// TestDefaultSchedule: the waits are exactly 3, 4.5, 6.75, 10.125, 15, 15 s,
// with no wait after the last attempt, and the last NO_SLOT answer comes
// back as the provider sent it.
func TestDefaultSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot)
		tr := mustNew(t, memRT{s}, Config{Retry: Backoff{Attempts: 7}})
		start := time.Now()
		resp, err := tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 54375*time.Millisecond {
			t.Errorf("RoundTrip took %v, want 54.375s", got)
		}
		want := []time.Duration{0, 3000, 7500, 14250, 24375, 39375, 54375}
		for i := range want {
			want[i] *= time.Millisecond
		}
		if diff := cmp.Diff(want, s.attemptTimes()); diff != "" {
			t.Errorf("attempt times (-want +got):\n%s", diff)
		}
		if got := readAll(t, resp); got != CodeNoSlot {
			t.Errorf("body = %q, want %q", got, CodeNoSlot)
		}
		if got := resp.Header.Get("X-Attempt"); got != "aaaaaaa" {
			t.Errorf("X-Attempt = %q, want the 7th attempt's header", got)
		}
	})
}

func TestJitterStaysInRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
		rnd := []float64{0.5, 0.999}
		var i int
		tr := mustNew(t, memRT{s}, Config{Rate: math.Inf(1), Retry: Backoff{Jitter: 1, Rand: func() float64 { i++; return rnd[i-1] }}})
		resp, err := tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// 3 s x (1 - 0.5), then 4.5 s x (1 - 0.999).
		want := []time.Duration{0, 1500 * time.Millisecond, 1500*time.Millisecond + 4500*time.Microsecond}
		if diff := cmp.Diff(want, s.attemptTimes()); diff != "" {
			t.Errorf("attempt times (-want +got):\n%s", diff)
		}
	})
}

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

// TestPacing: 20 attempts at 2/s with burst 1 take exactly 9.5 s, and the
// pacer spaces retries too.
func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers("OK|1")
		tr := mustNew(t, memRT{s}, Config{})
		start := time.Now()
		submitConcurrently(t, tr, 20)
		if got := time.Since(start); got != 9500*time.Millisecond {
			t.Errorf("20 submits at 2/s took %v, want 9.5s", got)
		}
		times := s.attemptTimes()
		for i, at := range times {
			if want := time.Duration(i) * 500 * time.Millisecond; at != want {
				t.Errorf("attempt %d at %v, want %v", i+1, at, want)
			}
		}
		if st := tr.Stats(); st.PacerWait == 0 || st.Attempts != 20 || st.Accepted != 20 {
			t.Errorf("Stats = %+v, want 20 attempts, 20 accepted, some pacer wait", st)
		}
	})
}

// TestInFlightBound: 12 attempts of 2 s each through 3 slots take exactly 8 s.
func TestInFlightBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		inFlight, peak := 0, 0
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(2 * time.Second)
			mu.Lock()
			inFlight--
			mu.Unlock()
			io.WriteString(w, "OK|1")
		})
		tr := mustNew(t, memRT{slow}, Config{Rate: math.Inf(1), MaxInFlight: 3})
		start := time.Now()
		submitConcurrently(t, tr, 12)
		if got := time.Since(start); got != 8*time.Second {
			t.Errorf("12 slow attempts through 3 slots took %v, want 8s", got)
		}
		if peak != 3 {
			t.Errorf("peak in flight = %d, want 3", peak)
		}
		if st := tr.Stats(); st.InFlight != 0 || st.LimitWait == 0 {
			t.Errorf("Stats InFlight = %d, LimitWait = %v, want 0 and some wait", st.InFlight, st.LimitWait)
		}
	})
}

// TestBreaker: opens after Failures NO_SLOT answers, fails fast without the
// network or a token, lets one probe through after OpenFor.
func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accept := false
		var mu sync.Mutex
		s := newScript(func(n int, _ []byte) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			if accept {
				return 200, "OK|9"
			}
			return 200, CodeNoSlot
		})
		cfg := Config{Rate: 1, Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 3, OpenFor: 10 * time.Second}}
		tr := mustNew(t, memRT{s}, cfg)
		client := &http.Client{Transport: tr}
		submit := func() (*http.Response, error) {
			resp, err := client.Do(submitReq(t))
			if err == nil {
				readAll(t, resp)
			}
			return resp, err
		}
		for range 3 {
			if _, err := submit(); err != nil {
				t.Fatal(err)
			}
		}
		openedAt := time.Now()
		before := time.Now()
		_, err := submit()
		if !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("4th submit: err = %v, want ErrCircuitOpen", err)
		}
		var oe *OpenError
		if !errors.As(err, &oe) || !oe.Until.Equal(openedAt.Add(10*time.Second)) {
			t.Errorf("OpenError = %+v, want Until 10s after the opening", oe)
		}
		if time.Since(before) != 0 || s.hits() != 3 {
			t.Errorf("fail fast took %v and %d hits, want 0s and 3", time.Since(before), s.hits())
		}
		if st := tr.Stats(); st.Breaker != gobreaker.StateOpen || st.BreakerOpens != 1 || st.FailedFast != 1 {
			t.Errorf("Stats breaker = %v, opens %d, failed fast %d; want open, 1, 1", st.Breaker, st.BreakerOpens, st.FailedFast)
		}
		// The failure came at 2 s (pacing at 1/s); open until 12 s.
		time.Sleep(10*time.Second - 1)
		if _, err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("just before OpenFor: err = %v, want ErrCircuitOpen", err)
		}
		time.Sleep(2 * time.Nanosecond) // gobreaker half-opens once its expiry is strictly past
		if _, err := submit(); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s.hits() != 4 {
			t.Errorf("hits after the probe = %d, want 4", s.hits())
		}
		if _, err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("after a NO_SLOT probe: err = %v, want ErrCircuitOpen (open again)", err)
		}
		time.Sleep(10*time.Second + 1)
		mu.Lock()
		accept = true
		mu.Unlock()
		for i := range 3 {
			if _, err := submit(); err != nil {
				t.Fatalf("submit %d after an accepted probe: %v", i, err)
			}
		}
	})
}

// TestBanHoldsBreaker: each ban answer is handed back, then holds the
// breaker open for exactly its published length.
func TestBanHoldsBreaker(t *testing.T) {
	for _, tt := range []struct {
		code string
		hold time.Duration
	}{
		{CodeBanNoSlot, 10 * time.Minute},
		{CodeBanZeroBalance, 5 * time.Minute},
		{CodeBanNoSlotShare, 30 * time.Second},
	} {
		t.Run(tt.code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(tt.code, "OK|1")
				tr := mustNew(t, memRT{s}, noPacing)
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != tt.code {
					t.Errorf("body = %q, want the ban answer %q", got, tt.code)
				}
				time.Sleep(tt.hold - 1)
				_, err = tr.RoundTrip(submitReq(t))
				var oe *OpenError
				if !errors.As(err, &oe) || oe.Code != tt.code || !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("during the ban: err = %v, want an OpenError for %s", err, tt.code)
				}
				time.Sleep(time.Nanosecond)
				resp, err = tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatalf("after the ban: %v", err)
				}
				resp.Body.Close()
				if s.hits() != 2 {
					t.Errorf("hits = %d, want 2", s.hits())
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

// TestBodyReplay: every attempt carries the same bytes, through GetBody,
// through the one-time buffer, and for a multipart image upload.
func TestBodyReplay(t *testing.T) {
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("key", testKey)
	w.WriteField("method", "post")
	fw, _ := w.CreateFormFile("file", "captcha.png")
	img := make([]byte, 40<<10)
	for i := range img {
		img[i] = byte(i * 7)
	}
	fw.Write(img)
	w.Close()

	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"GetBody", func() io.Reader { return bytes.NewReader(mp.Bytes()) }},
		{"no GetBody", func() io.Reader { return io.MultiReader(bytes.NewReader(mp.Bytes())) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
				tr := mustNew(t, memRT{s}, Config{})
				req, _ := http.NewRequest("POST", "http://provider.test/in.php", tt.body())
				req.Header.Set("Content-Type", w.FormDataContentType())
				orig := req.Body
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if req.Body != orig {
					t.Error("RoundTrip replaced the caller's req.Body")
				}
				if len(s.bodies) != 3 {
					t.Fatalf("attempts = %d, want 3", len(s.bodies))
				}
				for i, b := range s.bodies {
					if !bytes.Equal(b, mp.Bytes()) {
						t.Errorf("attempt %d sent %d bytes that differ from the %d of the request", i+1, len(b), mp.Len())
					}
				}
			})
		})
	}
}

// TestBodyOverCapSentOnce: a body larger than MaxReplayBody without GetBody
// is sent whole, once, and not retried.
func TestBodyOverCapSentOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, "OK|1")
		tr := mustNew(t, memRT{s}, Config{MaxReplayBody: 10})
		payload := strings.Repeat("x", 100)
		req, _ := http.NewRequest("POST", "http://provider.test/in.php", io.MultiReader(strings.NewReader(payload)))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != CodeNoSlot || s.hits() != 1 || string(s.bodies[0]) != payload {
			t.Errorf("got %q after %d attempts (body %d bytes), want NO_SLOT after 1 with 100 bytes", got, s.hits(), len(s.bodies[0]))
		}
	})
}

// TestResponseIntact: answers of every size come back byte for byte, with
// the status and headers the provider sent.
func TestResponseIntact(t *testing.T) {
	for _, size := range []int{0, 5, inlineAnswer, inlineAnswer + 1, peekLimit, peekLimit + 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Test", "yes")
				w.WriteHeader(201)
				w.Write(body)
			})
			tr := mustNew(t, memRT{h}, noPacing)
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, resp)
			if got != string(body) || resp.StatusCode != 201 || resp.Header.Get("X-Test") != "yes" {
				t.Errorf("got %d bytes, status %d, X-Test %q; want %d bytes, 201, yes", len(got), resp.StatusCode, resp.Header.Get("X-Test"), size)
			}
			if st := tr.Stats(); st.InFlight != 0 {
				t.Errorf("InFlight after Close = %d, want 0", st.InFlight)
			}
		})
	}
}

// TestGzipAnswer: a gzip answer the caller asked to see encoded is read
// decoded and handed back encoded; a bomb is read no further than the bound.
func TestGzipAnswer(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	noSlot := gz([]byte(CodeNoSlot))
	bomb := gz(make([]byte, 64<<20))
	for _, tt := range []struct {
		name     string
		body     []byte
		attempts int
	}{
		{"NO_SLOT", noSlot, 2},
		{"bomb", bomb, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n++
					if n > 1 {
						io.WriteString(w, "OK|1")
						return
					}
					w.Header().Set("Content-Encoding", "gzip")
					w.Write(tt.body)
				})
				tr := mustNew(t, memRT{h}, noPacing)
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				got := readAll(t, resp)
				if n != tt.attempts {
					t.Errorf("attempts = %d, want %d", n, tt.attempts)
				}
				if tt.attempts == 1 && got != string(tt.body) {
					t.Errorf("handed back %d bytes, want the %d encoded bytes", len(got), len(tt.body))
				}
			})
		})
	}
}

// TestNonSubmitsUntouched: polls and balance checks go straight to base: no
// pacing, no reading, the very response base returned.
func TestNonSubmitsUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var last *http.Response
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			resp, _ := memRT{answers()}.RoundTrip(r)
			last = resp
			return resp, nil
		})
		tr := mustNew(t, base, Config{Rate: 0.1})
		start := time.Now()
		for range 50 {
			req, _ := http.NewRequest("GET", "http://provider.test/res.php?key="+testKey+"&action=get&id=1", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp != last {
				t.Fatal("a poll's response was not the one base returned")
			}
			resp.Body.Close()
		}
		if time.Since(start) != 0 {
			t.Errorf("50 polls took %v, want 0 (not paced)", time.Since(start))
		}
		if st := tr.Stats(); st.Submits != 0 || st.Attempts != 0 {
			t.Errorf("Stats counted polls as submits: %+v", st)
		}
	})
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

func textResp(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}
}

// TestLoggerNeverShowsKey: retries are logged with attempt, code and wait;
// the key, in the query or the form, appears in no log line and no error.
func TestLoggerNeverShowsKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := answers(CodeNoSlot)
		tr := mustNew(t, memRT{s}, Config{Logger: logger, Retry: Backoff{Attempts: 3}, Breaker: BreakerConfig{Failures: 3}})
		client := &http.Client{Transport: tr}
		req := submitReq(t)
		req.URL.RawQuery = "key=" + testKey + "&json=0"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = tr.RoundTrip(submitReq(t))
		if !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("err = %v, want ErrCircuitOpen", err)
		}
		out := logs.String()
		for _, want := range []string{"attempt=1 code=ERROR_NO_SLOT_AVAILABLE wait=3s", "attempt=2 code=ERROR_NO_SLOT_AVAILABLE wait=4.5s", "breaker opened"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, testKey) || strings.Contains(err.Error(), testKey) {
			t.Errorf("the API key leaked:\nlog: %s\nerr: %v", out, err)
		}
	})
}

// TestStats checks the counters a dashboard reads.
func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1", "ERROR_WRONG_USER_KEY")
		tr := mustNew(t, memRT{s}, Config{})
		for range 2 {
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		st := tr.Stats()
		want := Stats{
			Submits: 2, Attempts: 4, Accepted: 1, Retries: 2,
			Answers:     map[string]int64{CodeNoSlot: 2, "ERROR_WRONG_USER_KEY": 1},
			Breaker:     gobreaker.StateClosed,
			BackoffWait: 7500 * time.Millisecond,
			PacerWait:   st.PacerWait,
			Rate:        2,
			// 110 - 2 NO_SLOT this minute; 50 - 2 submits in the last
			// 3 s (at 7.5 and 8 s).
			NoSlotHeadroom: 108,
			SubmitHeadroom: 48,
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}
