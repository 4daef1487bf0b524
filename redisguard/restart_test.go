package redisguard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

func TestRestartRampsBudget(t *testing.T) {
	// A line full when Redis restarts empty: the provider still counts
	// what Redis forgot, so the line ramps up from 0 over its window, the
	// k-th admission no sooner than k/line of it after the loss. (Issue
	// 11: at a line of 110 the fleet was admitted 220 within 425 ms.)
	tests := []struct {
		name    string
		cfg     Config
		line    int
		window  time.Duration
		outcome slotguard.Outcome
	}{
		{
			name:    "NO_SLOT line",
			cfg:     Config{TimeScale: 60, Budget: slotguard.BudgetConfig{NoSlotPerMinute: 20, SubmitsPer3s: slotguard.Unlimited}},
			line:    20,
			window:  time.Second,
			outcome: slotguard.OutcomeNoSlot,
		},
		{
			name:    "submit line",
			cfg:     Config{TimeScale: 6, Budget: slotguard.BudgetConfig{NoSlotPerMinute: slotguard.Unlimited, SubmitsPer3s: 20}},
			line:    20,
			window:  500 * time.Millisecond,
			outcome: slotguard.OutcomeAccepted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := redistest.Start(t)
			f := fleetOf(t, s.Addr, testKey(t), 1, tt.cfg)[0]
			b := f.Budget
			ctx := context.Background()
			for range tt.line {
				must(t, "Admit", b.Admit(ctx))
				b.Done(ctx, tt.outcome)
			}
			s.Stop()
			s.Restart()
			reconnect(t, f)
			start := time.Now() // the loss is found after this
			run, cancel := context.WithTimeout(ctx, tt.window/2)
			defer cancel()
			var times []time.Duration
			for b.Admit(run) == nil {
				times = append(times, time.Since(start))
				b.Done(ctx, tt.outcome)
			}
			t.Logf("after the restart, in %v of a %v window: %d admitted, at %v", tt.window/2, tt.window, len(times), times)
			step := tt.window / time.Duration(tt.line)
			for i, d := range times {
				if want := time.Duration(i+1)*step - 2*time.Millisecond; d < want {
					t.Errorf("admission %d came %v after the restart, want at least %v", i+1, d, want)
				}
			}
			if len(times) < tt.line/4 {
				t.Errorf("admitted %d in half a window, want the line to ramp up (about %d)", len(times), tt.line/2)
			}
		})
	}
}

func TestRestartKeepsOpenings(t *testing.T) {
	// A 10-minute ban opens the fleet's breaker, then Redis restarts
	// empty, and a run of NO_SLOT answers opens it for 30 s. A process
	// that still holds the ban writes it back at its next Allow (the later
	// end wins), and a process that never saw it sees it. (Issue 11: it
	// was forgotten by every process that had not seen it.)
	tests := []struct {
		name string
		// before makes the opening, by maker (fleet 0); the holder
		// (fleet holder) writes it back after the restart.
		before func(t *testing.T, s *redistest.Server, fs []*Fleet, until time.Time)
		holder int
	}{
		{"made", func(t *testing.T, _ *redistest.Server, fs []*Fleet, until time.Time) {
			must(t, "Open", fs[0].Breaker.Open(context.Background(), "", until, "ERROR: 1001"))
		}, 0},
		{"seen", func(t *testing.T, _ *redistest.Server, fs []*Fleet, until time.Time) {
			must(t, "Open", fs[0].Breaker.Open(context.Background(), "", until, "ERROR: 1001"))
			if _, err := fs[1].Breaker.Allow(context.Background(), ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
				t.Fatalf("Allow = %v, want the opening", err)
			}
		}, 1},
		{"made while Redis was down", func(t *testing.T, s *redistest.Server, fs []*Fleet, until time.Time) {
			s.Stop()
			var re *Error
			if err := fs[0].Breaker.Open(context.Background(), "", until, "ERROR: 1001"); !errors.As(err, &re) {
				t.Fatalf("Open with Redis down = %v, want an *Error", err)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := redistest.Start(t)
			fs := fleetOf(t, s.Addr, testKey(t), 4, Config{Timeout: 200 * time.Millisecond})
			for _, f := range fs {
				f.Breaker.recheck = 0 // ask Redis at each refusal, not once a second
			}
			holder, other, fresh := fs[tt.holder].Breaker, fs[2].Breaker, fs[3].Breaker
			ctx := context.Background()
			until := time.Now().Add(10 * time.Minute)
			tt.before(t, s, fs, until)
			s.Stop()
			s.Restart()
			reconnect(t, fs...)
			must(t, "Open after the restart", other.Open(ctx, "", time.Now().Add(30*time.Second), ""))
			var oe *slotguard.OpenError
			if _, err := holder.Allow(ctx, ""); !errors.As(err, &oe) || oe.Code != "ERROR: 1001" {
				t.Fatalf("holder: Allow after the restart = %v, want its ERROR: 1001 opening", err)
			}
			_, err := fresh.Allow(ctx, "")
			if !errors.As(err, &oe) || oe.Code != "ERROR: 1001" || oe.Until.Sub(until).Abs() > 100*time.Millisecond {
				t.Errorf("a process that never saw the ban: Allow after the restart = %v, want ERROR: 1001 until %v", err, until.Format(time.StampMilli))
			}
		})
	}
}
