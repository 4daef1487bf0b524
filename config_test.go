package slotguard

import (
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
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
