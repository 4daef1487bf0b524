package slotguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Each stage works alone, over any base, and leaves non-submits alone.

func TestPacerAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers("OK|1")
		lim := rate.NewLimiter(4, 1)
		// Two Pacers sharing one limiter pace together.
		a, b := &Pacer{Base: memRT{s}, Limiter: lim}, &Pacer{Base: memRT{s}, Limiter: lim}
		start := time.Now()
		for i := range 8 {
			p := a
			if i%2 == 1 {
				p = b
			}
			resp, err := p.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if got := time.Since(start); got != 1750*time.Millisecond {
			t.Errorf("8 submits at 4/s through two Pacers took %v, want 1.75s", got)
		}
		var zero Pacer
		zero.Base = memRT{s}
		resp, err := zero.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatalf("zero Pacer: %v", err)
		}
		resp.Body.Close()
	})
}

func TestLimitAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers("OK|" + strings.Repeat("7", 100))
		l := &Limit{Base: memRT{s}, Sem: semaphore.NewWeighted(1)}
		first, err := l.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		// Held until the first body is finished: read to the end, not
		// even closed, frees it.
		go func() {
			time.Sleep(time.Second)
			io.ReadAll(first.Body)
		}()
		start := time.Now()
		second, err := l.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("second submit waited %v, want 1s", got)
		}
		second.Body.Close()
		first.Body.Close() // a second release must not happen
		if !l.Sem.TryAcquire(1) || l.Sem.TryAcquire(1) {
			t.Error("semaphore not back to exactly one free unit")
		}
	})
}

func TestBreakerAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
		b, err := NewBreaker(memRT{s}, BreakerConfig{Failures: 2, OpenFor: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			resp, err := b.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != CodeNoSlot {
				t.Errorf("body = %q, want NO_SLOT handed back", got)
			}
		}
		if _, err := b.RoundTrip(submitReq(t)); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("err = %v, want ErrCircuitOpen", err)
		}
		if b.CB.State() != gobreaker.StateOpen {
			t.Errorf("state = %v, want open", b.CB.State())
		}
		if _, err := NewBreaker(nil, BreakerConfig{Failures: -1}); err == nil || !strings.Contains(err.Error(), "BreakerConfig.Failures") {
			t.Errorf("NewBreaker(Failures -1) = %v, want an error naming BreakerConfig.Failures", err)
		}
		// A user-built breaker from BreakerSettings, shared by two stages.
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](BreakerSettings(BreakerConfig{Failures: 1}))
		x, y := &Breaker{Base: memRT{answers(CodeNoSlot)}, CB: cb}, &Breaker{Base: memRT{answers("OK|1")}, CB: cb}
		resp, _ := x.RoundTrip(submitReq(t))
		resp.Body.Close()
		if _, err := y.RoundTrip(submitReq(t)); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("shared breaker: err = %v, want ErrCircuitOpen", err)
		}
	})
}

// TestBreakerNeutralProbe: a probe whose answer is neither accepted nor
// NO_SLOT (or a cancelled one) does not wedge the half-open breaker.
func TestBreakerNeutralProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, "ERROR_BAD_PARAMETERS", "OK|1")
		tr := mustNew(t, memRT{s}, Config{Rate: 0.01, Burst: 1, Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 1, OpenFor: time.Second}})
		resp, _ := tr.RoundTrip(submitReq(t))
		resp.Body.Close()
		time.Sleep(2 * time.Second)
		// The probe waits for a token (100 s) and is cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := tr.RoundTrip(submitReq(t).WithContext(ctx)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe: err = %v, want DeadlineExceeded", err)
		}
		tr.pacer.lim.SetLimit(rate.Inf)
		for _, want := range []string{"ERROR_BAD_PARAMETERS", "OK|1"} {
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatalf("after a neutral probe: %v", err)
			}
			if got := readAll(t, resp); got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
		}
	})
}

func TestSlotRetryAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
		sr := &SlotRetry{Base: memRT{s}}
		start := time.Now()
		resp, err := sr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "OK|1" || time.Since(start) != 7500*time.Millisecond {
			t.Errorf("got %q after %v, want OK|1 after 7.5s", got, time.Since(start))
		}
		bad := &SlotRetry{Base: memRT{s}, Backoff: Backoff{Multiplier: 0.9}}
		if _, err := bad.RoundTrip(submitReq(t)); err == nil || !strings.Contains(err.Error(), "Backoff.Multiplier") {
			t.Errorf("invalid Backoff: err = %v, want one naming Backoff.Multiplier", err)
		}
	})
}

// TestConcurrentUse hammers one Transport from many goroutines with mixed
// answers, for the race detector; every attempt ends released.
func TestConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(func(n int, _ []byte) (int, string) {
			switch n % 4 {
			case 0:
				return 200, CodeNoSlot
			case 1:
				return 200, `{"status":1,"request":"42"}`
			case 2:
				return 503, "busy"
			}
			return 200, "OK|" + strings.Repeat("9", 2000)
		})
		tr := mustNew(t, memRT{s}, Config{Rate: 50, Burst: 5, MaxInFlight: 4})
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				tr.Stats()
			})
		}
		wg.Wait()
		if st := tr.Stats(); st.InFlight != 0 || st.Submits != 40 {
			t.Errorf("Stats = %+v, want 40 submits and none in flight", st)
		}
		for range 4 {
			if !tr.bound.sem.TryAcquire(1) {
				t.Fatal("a semaphore unit leaked")
			}
		}
	})
}

// TestClientErrorMatches: through http.Client, the errors still match.
func TestClientErrorMatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers(CodeBanNoSlot)}, Config{})
		c := &http.Client{Transport: tr}
		resp, err := c.Do(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = c.Do(submitReq(t))
		var oe *OpenError
		if !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &oe) || oe.Code != CodeBanNoSlot {
			t.Errorf("err = %v, want an *OpenError for %s matching ErrCircuitOpen", err, CodeBanNoSlot)
		}
	})
}
