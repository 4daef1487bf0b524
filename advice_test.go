package slotguard

import (
	"math"
	"strings"
	"testing"
	"testing/synctest"
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
