package slotguard

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/sony/gobreaker/v2"
)

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

// TestAdviceByType: while only one type's breaker is open, Advice says go,
// for the other types, and names the open one.
func TestAdviceByType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if strings.Contains(string(b), "method=userrecaptcha") {
				return textResp(200, CodeNoSlot), nil
			}
			return textResp(200, "OK|1"), nil
		})
		tr := mustNew(t, base, Config{Rate: math.Inf(1), Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 2}})
		for _, m := range []string{"post", "userrecaptcha", "userrecaptcha"} {
			if resp, err := tr.RoundTrip(formReq(t, m)); err == nil {
				resp.Body.Close()
			}
		}
		a := tr.Advice()
		if !a.Go || !strings.Contains(a.Reason, "open for recaptcha only") || a.ByType[TypeRecaptcha].Breaker != gobreaker.StateOpen {
			t.Errorf("Advice = %+v, want Go, naming recaptcha's open breaker", a)
		}
	})
}

// TestAdviceThreadsByType: with thread permits, Advice names the type
// whose submits wait for their type's threads, and still says go.
func TestAdviceThreadsByType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers("OK|1")}, Config{Rate: math.Inf(1), Threads: Threads{Enabled: true, Overbook: 1}})
		for range 2 {
			tr.threads.acquire(t.Context(), TypeRecaptcha) // recaptcha's limit: 1 + 1
		}
		go tr.threads.acquire(t.Context(), TypeRecaptcha)
		synctest.Wait()
		a := tr.Advice()
		if !a.Go || !strings.Contains(a.Reason, "waiting for their type's threads: recaptcha (2 of 2, 1 waiting)") {
			t.Errorf("Advice = %+v, want Go, naming recaptcha's line", a)
		}
		if th := a.ByType[TypeRecaptcha].Threads; th != (TypeThreads{Held: 2, Capacity: 1, Limit: 2, Waiters: 1}) {
			t.Errorf("ByType[recaptcha].Threads = %+v", th)
		}
	})
}
