package redisguard

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

func TestBudgetNoSlotLineFleetWide(t *testing.T) {
	// 16 processes answer NO_SLOT to every attempt. With TimeScale 60 the
	// minute is 1 s; the line is 20. In no rolling second may more than 20
	// NO_SLOT answers land, and the fleet should use the budget.
	addr := redistest.Addr(t)
	const n, line, run = 16, 20, 3 * time.Second
	cfg := Config{TimeScale: 60, Budget: slotguard.BudgetConfig{NoSlotPerMinute: line, SubmitsPer3s: slotguard.Unlimited}}
	fs := fleetOf(t, addr, testKey(t), n, cfg)
	window := time.Second

	type stamp struct{ before, after time.Time } // the Done call; Redis stamps in between
	var mu sync.Mutex
	var stamps []stamp
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			for {
				if err := f.Budget.Admit(ctx); err != nil {
					if ctx.Err() == nil {
						t.Errorf("Admit = %v", err)
					}
					return
				}
				time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond) // the request
				before := time.Now()
				f.Budget.Done(ctx, slotguard.OutcomeNoSlot)
				mu.Lock()
				stamps = append(stamps, stamp{before, time.Now()})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Count, for windows ending at each stamp, the stamps that lie
	// surely inside it: a lower bound of what Redis saw, which the line
	// bounds.
	slices.SortFunc(stamps, func(a, b stamp) int { return a.before.Compare(b.before) })
	most := 0
	for _, end := range stamps {
		y := end.after
		k := 0
		for _, s := range stamps {
			if s.before.After(y.Add(-window)) && !s.after.After(y) {
				k++
			}
		}
		most = max(most, k)
	}
	t.Logf("%d NO_SLOT answers in %v from %d processes; most in one rolling window: %d (line %d)", len(stamps), run, n, most, line)
	if most > line {
		t.Errorf("NO_SLOT answers in one rolling window = %d, want at most %d", most, line)
	}
	if want := line * int(run/window) * 3 / 4; len(stamps) < want {
		t.Errorf("NO_SLOT answers = %d, want at least %d: the fleet should use its budget", len(stamps), want)
	}
}

func TestBudgetInFlightCountsAtOnce(t *testing.T) {
	// 40 processes admit at the same moment under a line of 10, and none
	// answers: exactly 10 go, the others wait until their context ends.
	addr := redistest.Addr(t)
	const n, line = 40, 10
	cfg := Config{Budget: slotguard.BudgetConfig{NoSlotPerMinute: line}}
	fs := fleetOf(t, addr, testKey(t), n, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var admitted, waited atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			<-start
			err := f.Budget.Admit(ctx)
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.Is(err, context.DeadlineExceeded):
				waited.Add(1)
			default:
				t.Errorf("Admit = %v, want nil or context.DeadlineExceeded", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted.Load() != line || waited.Load() != n-line {
		t.Errorf("admitted %d and waited %d, want %d and %d", admitted.Load(), waited.Load(), line, n-line)
	}
	u, err := fs[0].Budget.Usage(context.Background())
	must(t, "Usage", err)
	if u.Pending != line {
		t.Errorf("Usage().Pending = %d, want %d", u.Pending, line)
	}
	// The answers free the room; submits stay counted for their window.
	for _, f := range fs {
		f.Budget.Done(context.Background(), slotguard.OutcomeAccepted)
	}
	u, err = fs[0].Budget.Usage(context.Background())
	must(t, "Usage", err)
	if u != (Usage{Submits: line}) {
		t.Errorf("Usage() after the answers = %+v, want only the %d submits", u, line)
	}
}

func TestBudgetWaitsForRoom(t *testing.T) {
	// A line of 2 full of NO_SLOT answers: Admit waits until the oldest
	// leaves the (scaled, 1 s) minute.
	addr := redistest.Addr(t)
	cfg := Config{TimeScale: 60, Budget: slotguard.BudgetConfig{NoSlotPerMinute: 2}}
	b := fleetOf(t, addr, testKey(t), 1, cfg)[0].Budget
	first := time.Now()
	for range 2 {
		must(t, "Admit", b.Admit(context.Background()))
		b.Done(context.Background(), slotguard.OutcomeNoSlot)
	}
	must(t, "Admit at the line", b.Admit(ctxFor(t, 3*time.Second)))
	if d := time.Since(first); d < 950*time.Millisecond || d > 1200*time.Millisecond {
		t.Errorf("Admit at the line came after %v, want about 1 s (the window)", d)
	}
	// Full again: a cancelled wait returns the context's error.
	b.Done(context.Background(), slotguard.OutcomeNoSlot)
	must(t, "Admit", b.Admit(context.Background()))
	b.Done(context.Background(), slotguard.OutcomeNoSlot)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := b.Admit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Admit = %v, want context.Canceled", err)
	}
}

func TestBudgetSubmitLine(t *testing.T) {
	// A line of 10 submits per (scaled, 300 ms) 3 s: over 1.5 s, 8
	// processes get at most 10 per rolling 300 ms.
	addr := redistest.Addr(t)
	const n, line, run = 8, 10, 1500 * time.Millisecond
	window := 300 * time.Millisecond
	cfg := Config{TimeScale: 10, Budget: slotguard.BudgetConfig{SubmitsPer3s: line}}
	fs := fleetOf(t, addr, testKey(t), n, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var mu sync.Mutex
	var times []time.Time // when each Admit returned; Redis admitted it shortly before
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			for {
				if err := f.Budget.Admit(ctx); err != nil {
					return
				}
				now := time.Now()
				f.Budget.Done(ctx, slotguard.OutcomeAccepted)
				mu.Lock()
				times = append(times, now)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Count, for windows ending at each return, the returns in the window
	// narrowed by slack: with Admit's reply taking less than slack, each
	// of them was admitted by Redis inside the full window, so the count
	// is a lower bound of Redis's, which the line bounds.
	const slack = 10 * time.Millisecond
	most := 0
	for _, y := range times {
		k := 0
		for _, x := range times {
			if x.After(y.Add(-window+slack)) && !x.After(y) {
				k++
			}
		}
		most = max(most, k)
	}
	t.Logf("%d submits in %v; most in one rolling %v: %d (line %d)", len(times), run, window, most, line)
	if most > line {
		t.Errorf("submits in one rolling window = %d, want at most %d", most, line)
	}
	if maxWant := line * (int(run/window) + 1); len(times) > maxWant || len(times) < maxWant*3/4 {
		t.Errorf("submits = %d, want about %d", len(times), maxWant)
	}
}

func TestBudgetDoneAfterCancel(t *testing.T) {
	addr := redistest.Addr(t)
	b := fleetOf(t, addr, testKey(t), 1, Config{})[0].Budget
	must(t, "Admit", b.Admit(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Done(ctx, slotguard.OutcomeNoSlot)
	u, err := b.Usage(context.Background())
	must(t, "Usage", err)
	if u.NoSlot != 1 || u.Pending != 0 {
		t.Errorf("Usage() after Done with a cancelled context = %+v, want the NO_SLOT counted", u)
	}
}

func TestBudgetPendingExpires(t *testing.T) {
	// A process that dies between Admit and Done holds its room for
	// Config.Pending only.
	addr := redistest.Addr(t)
	cfg := Config{Pending: 200 * time.Millisecond, Budget: slotguard.BudgetConfig{NoSlotPerMinute: 1}}
	fs := fleetOf(t, addr, testKey(t), 2, cfg)
	must(t, "Admit", fs[0].Budget.Admit(context.Background())) // and never Done
	start := time.Now()
	must(t, "Admit", fs[1].Budget.Admit(ctxFor(t, 2*time.Second)))
	if d := time.Since(start); d < 150*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("Admit behind a lost admission came after %v, want about 200 ms", d)
	}
}

func TestBudgetOutcomes(t *testing.T) {
	// What each outcome leaves in the fleet's NO_SLOT line. A lost answer
	// (sent, then the answer lost or cut) may have been a NO_SLOT, so it
	// counts as one.
	tests := []struct {
		o      slotguard.Outcome
		noSlot int
	}{
		{slotguard.OutcomeUnknown, 0},
		{slotguard.OutcomeAccepted, 0},
		{slotguard.OutcomeNoSlot, 1},
		{slotguard.OutcomeOther, 0},
		{slotguard.OutcomeLost, 1},
	}
	addr := redistest.Addr(t)
	for _, tt := range tests {
		b := fleetOf(t, addr, testKey(t), 1, Config{})[0].Budget
		must(t, "Admit", b.Admit(context.Background()))
		b.Done(context.Background(), tt.o)
		u, err := b.Usage(context.Background())
		must(t, "Usage", err)
		if want := (Usage{NoSlot: tt.noSlot, Submits: 1}); u != want {
			t.Errorf("Usage() after Done(%d) = %+v, want %+v", tt.o, u, want)
		}
	}
}
