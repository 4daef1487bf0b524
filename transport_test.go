package slotguard

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
)

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
			ByType:         map[string]TypeStats{TypeRecaptcha: {Attempts: 4, Accepted: 1, NoSlot: 2, Breaker: gobreaker.StateClosed}},
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}
