package slotguard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

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

// TestAdaptivePerType: NO_SLOT slows the type that got it and no other
// (issue 14): after a run of reCAPTCHA NO_SLOT answers, image submits still
// go at the ceiling, to the exact virtual millisecond, and reCAPTCHA ones at
// its lowered rate. The key's ceiling holds for both together.
func TestAdaptivePerType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &byMethod{answer: func(m string) string {
			if m == "userrecaptcha" {
				return CodeNoSlot
			}
			return "OK|1"
		}}
		// Rate 2/s, burst 1; each NO_SLOT multiplies reCAPTCHA's rate by 0.5.
		tr := mustNew(t, base, Config{
			Rate:     2,
			Adaptive: Adaptive{Enabled: true, Decrease: 0.5, Floor: 0.25},
			Retry:    Backoff{Attempts: 1},
			Breaker:  BreakerConfig{Failures: Unlimited},
		})
		send := func(method string) {
			resp, err := tr.RoundTrip(formReq(t, method))
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			resp.Body.Close()
		}
		for range 3 {
			send("userrecaptcha") // 2 -> 1 -> 0.5 -> 0.25
		}
		time.Sleep(10 * time.Second) // every bucket full again
		start := time.Now()
		for range 5 {
			send("post")
		}
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("5 image submits after a reCAPTCHA shortage took %v, want 2s (the ceiling, 2/s)", got)
		}
		time.Sleep(10 * time.Second)
		start = time.Now()
		for range 2 {
			send("userrecaptcha")
		}
		// The first goes on the full bucket; the second waits 1/0.25 s.
		if got := time.Since(start); got != 4*time.Second {
			t.Errorf("2 reCAPTCHA submits at the floor took %v, want 4s", got)
		}
		by := tr.Stats().ByType
		if by["image"].Rate != 2 || by["recaptcha"].Rate != 0.25 {
			t.Errorf("ByType rates: image %v, recaptcha %v; want 2 and the floor 0.25", by["image"].Rate, by["recaptcha"].Rate)
		}
		if got := tr.Stats().Rate; got != 2 {
			t.Errorf("Stats.Rate = %v, want 2 (the fastest type)", got)
		}
		if p, r := base.saw("post"), base.saw("userrecaptcha"); p != 5 || r != 5 {
			t.Errorf("provider saw %d post and %d userrecaptcha, want 5 and 5", p, r)
		}
	})
}

// TestAdaptiveTypesBounded: random method names do not grow the rates
// past maxTypes; the rest share the untyped rate.
func TestAdaptiveTypesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers(CodeNoSlot)}, Config{Rate: 1000, Adaptive: Adaptive{Enabled: true}, Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: Unlimited}})
		for i := range 100 {
			resp, err := tr.RoundTrip(formReq(t, fmt.Sprintf("m%d", i)))
			if err == nil {
				resp.Body.Close()
			}
		}
		tr.rc.mu.Lock()
		n := len(tr.rc.typed)
		tr.rc.mu.Unlock()
		if n > maxTypes {
			t.Errorf("%d typed rates after 100 method names, want at most %d", n, maxTypes)
		}
	})
}

// reentrantPacer is a shared pacer whose SetLimit notes whether the rate
// control's lock is held: a hook that read the Transport's Stats then, as
// a user's dashboard might, would deadlock.
type reentrantPacer struct {
	tr     *Transport
	limits []rate.Limit
	locked bool
}

func (p *reentrantPacer) Wait(context.Context) error { return nil }

func (p *reentrantPacer) SetLimit(l rate.Limit) {
	p.limits = append(p.limits, l)
	if !p.tr.rc.mu.TryLock() {
		p.locked = true
		return
	}
	p.tr.rc.mu.Unlock()
}

// TestSharedPacerNotCalledUnderLock: the schedule gives a shared pacer
// its hour's rate with no lock of the Transport's held (STYLE 8).
func TestSharedPacerNotCalledUnderLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp := &reentrantPacer{}
		tr := mustNew(t, memRT{answers("OK|1")}, Config{Schedule: PublishedSchedule(4, 2, 1), Shared: Shared{Pacer: sp}})
		sp.tr = tr
		resp, err := tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		time.Sleep(6 * time.Hour)
		resp, err = tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []rate.Limit{4, 2}; !slices.Equal(sp.limits, want) || sp.locked {
			t.Errorf("shared pacer's limits %v, lock held %v; want %v (the hours' rates), false", sp.limits, sp.locked, want)
		}
	})
}
