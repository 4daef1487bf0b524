package slotguard

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

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
