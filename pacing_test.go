package slotguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// maxInWindow is the most times in any span-long window.
func maxInWindow(times []time.Duration, span time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	most := 0
	for i := range times {
		j := sort.Search(len(times), func(j int) bool { return times[j] >= times[i]+span })
		most = max(most, j-i)
	}
	return most
}

// TestBudgetNoSlotLine: whatever the pace and however many submits are in
// flight, NO_SLOT answers in any rolling minute stay at 110, so the 120th
// (ERROR: 1001) is never sent; the 111th waits for the oldest to age out.
func TestBudgetNoSlotLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := newScript(func(int, []byte) (int, string) {
			time.Sleep(time.Second)
			return 200, CodeNoSlot
		})
		tr := mustNew(t, memRT{slow}, Config{
			Rate: math.Inf(1), MaxInFlight: Unlimited,
			Retry:   Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: Unlimited},
			Budget:  BudgetConfig{SubmitsPer3s: Unlimited},
		})
		start := time.Now()
		submitConcurrently(t, tr, 250)
		times := slow.attemptTimes()
		if got := maxInWindow(times, time.Minute); got != 110 {
			t.Errorf("most NO_SLOT attempts in a minute = %d, want 110", got)
		}
		// 110 at 0 s (answered at 1 s, counted until 62 s), 110 at 62 s,
		// 30 at 124 s.
		if times[110] != 62*time.Second || times[220] != 124*time.Second {
			t.Errorf("the 111th went at %v and the 221st at %v, want 62s and 124s", times[110], times[220])
		}
		if st := tr.Stats(); st.BudgetWait == 0 || time.Since(start) != 125*time.Second {
			t.Errorf("BudgetWait = %v after %v, want some wait and 125s", st.BudgetWait, time.Since(start))
		}
	})
}

// TestBudgetSubmitLine: at most 50 submits in any 3 s (MAX_USER_TURN at 60).
func TestBudgetSubmitLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers("OK|1")
		tr := mustNew(t, memRT{s}, Config{Rate: math.Inf(1)})
		for range 120 {
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		times := s.attemptTimes()
		if got := maxInWindow(times, 3*time.Second); got != 50 {
			t.Errorf("most submits in 3 s = %d, want 50", got)
		}
		if times[50] != 3100*time.Millisecond {
			t.Errorf("the 51st submit went at %v, want 3.1s (3 s and one 100 ms bucket)", times[50])
		}
	})
}

// TestBudgetWaitCancels: a wait for the budget ends with the context.
func TestBudgetWaitCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers(CodeNoSlot)}, Config{Rate: math.Inf(1), Retry: Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: Unlimited}, Budget: BudgetConfig{NoSlotPerMinute: 1}})
		resp, _ := tr.RoundTrip(submitReq(t))
		resp.Body.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Second, cancel)
		start := time.Now()
		if _, err := tr.RoundTrip(submitReq(t).WithContext(ctx)); !errors.Is(err, context.Canceled) || time.Since(start) != 5*time.Second {
			t.Errorf("err = %v after %v, want context.Canceled after 5s", err, time.Since(start))
		}
	})
}

// TestAdaptiveRate: the rate falls by Decrease on NO_SLOT and MAX_USER_TURN,
// climbs by Increase on acceptance, between Floor and Rate.
func TestAdaptiveRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seq := []string{CodeNoSlot, CodeNoSlot, CodeUserTurn, "OK|1", "OK|2"}
		s := answers(append(seq, "OK|3")...)
		tr := mustNew(t, memRT{s}, Config{Adaptive: Adaptive{Enabled: true}, Retry: Backoff{Attempts: 1}})
		want := []float64{1.5, 1.125, 0.84375, 1.09375, 1.34375}
		for i, w := range want {
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := tr.Stats().Rate; math.Abs(got-w) > 1e-9 {
				t.Errorf("after answer %d (%s): rate = %v, want %v", i+1, seq[i], got, w)
			}
		}
		for range 30 {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}
		if got := tr.Stats().Rate; got != 2 {
			t.Errorf("after many acceptances: rate = %v, want the ceiling 2", got)
		}
		floor := mustNew(t, memRT{answers(CodeNoSlot)}, Config{Adaptive: Adaptive{Enabled: true, Floor: 0.5}, Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: Unlimited}})
		for range 20 {
			resp, _ := floor.RoundTrip(submitReq(t))
			resp.Body.Close()
		}
		if got := floor.Stats().Rate; got != 0.5 {
			t.Errorf("after many NO_SLOT: rate = %v, want the floor 0.5", got)
		}
	})
}

// TestSchedule: the rate follows the UTC hour, switching exactly at it.
// synctest's clock starts at midnight UTC.
func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers("OK|1")}, Config{Schedule: PublishedSchedule(4, 2, 1)})
		for _, step := range []struct {
			at   time.Duration
			want float64
			band Band
		}{
			{0, 4, BandHigh},
			{6*time.Hour - 1, 4, BandHigh},
			{6 * time.Hour, 2, BandModerate},
			{12 * time.Hour, 1, BandPeak},
			{18 * time.Hour, 2, BandModerate},
			{24 * time.Hour, 4, BandHigh},
		} {
			synctest.Wait()
			time.Sleep(step.at - time.Since(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)))
			if got, a := tr.Stats().Rate, tr.Advice(); got != step.want || a.Band != step.band {
				t.Errorf("at %v: rate %v, band %q; want %v, %q", step.at, got, a.Band, step.want, step.band)
			}
		}
		// Pacing follows: 5 submits at 4/s with burst 1 take 1 s.
		start := time.Now()
		for range 5 {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("7 submits at the high-availability rate took %v, want 1s", got)
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

// pollReq is a res.php action=get poll for id.
func pollReq(t *testing.T, id string) *http.Request {
	req, err := http.NewRequest("GET", "http://provider.test/res.php?key="+testKey+"&action=get&id="+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestPollPacing: the first poll waits 15 s after a reCAPTCHA submit (5 s
// for an image), later ones 5 s apart; other res.php calls pass.
func TestPollPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var polls []time.Duration
		start := time.Now()
		ready := false
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if IsSubmit(r) {
				if strings.Contains(r.URL.RawQuery, "method=post") {
					io.WriteString(w, "OK|2")
					return
				}
				io.WriteString(w, "OK|1")
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Query().Get("action") != "get" {
				io.WriteString(w, "12.5")
				return
			}
			polls = append(polls, time.Since(start))
			if ready {
				io.WriteString(w, "OK|token")
				return
			}
			io.WriteString(w, CodeNotReady)
		})
		tr := mustNew(t, memRT{h}, Config{Rate: math.Inf(1), Polls: PollPacing{Enabled: true}})
		resp, _ := tr.RoundTrip(submitReq(t)) // userrecaptcha: 15 s
		resp.Body.Close()
		img, _ := http.NewRequest("POST", "http://provider.test/in.php?method=post", strings.NewReader("file"))
		resp, _ = tr.RoundTrip(img) // image: 5 s
		resp.Body.Close()
		poll := func(id string) string {
			resp, err := tr.RoundTrip(pollReq(t, id))
			if err != nil {
				t.Fatal(err)
			}
			return readAll(t, resp)
		}
		poll("2")
		poll("2")
		poll("1")
		poll("1")
		mu.Lock()
		ready = true
		mu.Unlock()
		if got := poll("1"); got != "OK|token" {
			t.Errorf("poll = %q, want OK|token", got)
		}
		before := time.Now()
		bal, _ := http.NewRequest("GET", "http://provider.test/res.php?key="+testKey+"&action=getbalance", nil)
		resp, _ = tr.RoundTrip(bal)
		resp.Body.Close()
		if time.Since(before) != 0 {
			t.Error("a balance check was held")
		}
		want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 25 * time.Second}
		if fmt.Sprint(polls) != fmt.Sprint(want) {
			t.Errorf("polls at %v, want %v", polls, want)
		}
		// Solved: the task is forgotten.
		if _, ok := tr.polls.tasks["1"]; ok {
			t.Error("a solved task is still remembered")
		}
		if st := tr.Stats(); st.Polls != 5 || st.PollWait == 0 {
			t.Errorf("Stats Polls = %d, PollWait = %v; want 5 and some wait", st.Polls, st.PollWait)
		}
	})
}

// TestPollBudget: with no captchas sent, 1100 polls an hour (1200 less a
// margin of 100) go, and the next waits for the oldest to age out.
func TestPollBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers()
		tr := mustNew(t, memRT{s}, Config{Polls: PollPacing{Enabled: true}})
		start := time.Now()
		for i := range 1101 {
			resp, err := tr.RoundTrip(pollReq(t, fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if i == 1099 && time.Since(start) != 0 {
				t.Fatalf("1100 polls took %v, want 0", time.Since(start))
			}
		}
		if got := time.Since(start); got != 61*time.Minute {
			t.Errorf("the 1101st poll waited %v, want 61m (an hour and one bucket)", got)
		}
	})
}

// TestAdvice: Go while capacity looks free, not while most submits find no
// slot, nor while the breaker is open.
func TestAdvice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers(CodeNoSlot)}, Config{Rate: math.Inf(1), Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 20}})
		if a := tr.Advice(); !a.Go || a.Band != BandHigh {
			t.Errorf("fresh: %+v, want Go in high availability", a)
		}
		for range 12 {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}
		if a := tr.Advice(); a.Go || a.NoSlotShare != 1 || a.Answers != 12 || !strings.Contains(a.Reason, "no free slot") {
			t.Errorf("after 12 NO_SLOT: %+v, want no Go", a)
		}
		for range 8 {
			resp, _ := tr.RoundTrip(submitReq(t))
			resp.Body.Close()
		}
		if a := tr.Advice(); a.Go || !strings.Contains(a.Reason, "breaker is open") {
			t.Errorf("breaker open: %+v, want no Go", a)
		}
	})
}

// fakeShared is a Shared whose parts can fail, counting their calls.
type fakeShared struct {
	mu                    sync.Mutex
	fail                  error
	waits, admits, dones  int
	opens, closes, allows int
	openUntil             time.Time
	outcomes              []Outcome
	probeTaken            bool
}

func (f *fakeShared) Wait(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits++
	return f.fail
}

func (f *fakeShared) Admit(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.admits++
	return nil
}

func (f *fakeShared) Done(_ context.Context, o Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dones++
	f.outcomes = append(f.outcomes, o)
}

func (f *fakeShared) Allow(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allows++
	if f.fail != nil {
		return false, f.fail
	}
	if time.Now().Before(f.openUntil) {
		return false, &OpenError{Until: f.openUntil}
	}
	if !f.openUntil.IsZero() && !f.probeTaken {
		f.probeTaken = true
		return true, nil
	}
	return false, nil
}

func (f *fakeShared) Open(_ context.Context, until time.Time, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	f.openUntil, f.probeTaken = until, false
	return f.fail
}

func (f *fakeShared) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	f.openUntil = time.Time{}
	return f.fail
}

// TestSharedState: the shared parts are called once per attempt, an opening
// is shared, the fleet's probe result closes it, and a failing store falls
// back to local limits, logged once.
func TestSharedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{}
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
		var logs logBuffer
		tr := mustNew(t, memRT{s}, Config{
			Retry:   Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: 2, OpenFor: 10 * time.Second},
			Shared:  Shared{Pacer: f, Budget: f, Breaker: f},
			Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		})
		submit := func() error {
			resp, err := tr.RoundTrip(submitReq(t))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		submit()
		submit() // the local breaker opens, and shares it
		if f.opens != 1 || f.waits != 2 || f.admits != 2 || f.dones != 2 {
			t.Errorf("opens %d, waits %d, admits %d, dones %d; want 1, 2, 2, 2", f.opens, f.waits, f.admits, f.dones)
		}
		time.Sleep(11 * time.Second)
		if err := submit(); err != nil { // the fleet's probe, accepted
			t.Fatal(err)
		}
		if f.closes != 1 || fmt.Sprint(f.outcomes) != fmt.Sprint([]Outcome{OutcomeNoSlot, OutcomeNoSlot, OutcomeAccepted}) {
			t.Errorf("closes %d, outcomes %v; want 1 and NO_SLOT, NO_SLOT, accepted", f.closes, f.outcomes)
		}
		// Another process opened the fleet's breaker: this one fails fast.
		f.Open(context.Background(), time.Now().Add(time.Minute), CodeBanNoSlot)
		if err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("fleet open: err = %v, want ErrCircuitOpen", err)
		}
		// The store fails: local limits stand in, logged once.
		f.mu.Lock()
		f.fail, f.openUntil = errors.New("redis: i/o timeout"), time.Time{}
		f.mu.Unlock()
		for range 3 {
			if err := submit(); err != nil {
				t.Fatalf("store down: %v", err)
			}
		}
		if n := strings.Count(logs.String(), "shared state unavailable"); n != 3 || !tr.Stats().SharedDown {
			t.Errorf("logged %d times (one per part), SharedDown %v; want 3 and true:\n%s", n, tr.Stats().SharedDown, logs.String())
		}
		f.mu.Lock()
		f.fail = nil
		f.mu.Unlock()
		submit()
		if tr.Stats().SharedDown || !strings.Contains(logs.String(), "shared state back") {
			t.Errorf("after the store recovered: SharedDown %v, log:\n%s", tr.Stats().SharedDown, logs.String())
		}
	})
}
