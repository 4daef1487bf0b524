package redisguard

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/slotguard/slotguard/redisguard/redistest"
)

// countTokens runs one Wait loop per pacer until d has passed and returns
// the tokens each got.
func countTokens(t *testing.T, pacers []*Pacer, d time.Duration) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	counts := make([]int64, len(pacers))
	var failures atomic.Int64
	var wg sync.WaitGroup
	for i, p := range pacers {
		wg.Go(func() {
			for {
				err := p.Wait(ctx)
				if err != nil {
					if ctx.Err() == nil {
						failures.Add(1)
						t.Errorf("Wait = %v", err)
					}
					return
				}
				if ctx.Err() != nil { // granted after the window
					return
				}
				counts[i]++
			}
		})
	}
	wg.Wait()
	return counts
}

func TestPacerAggregateRate(t *testing.T) {
	// 8 pacers (processes) share 50/s: over 4 s the fleet gets 200 tokens
	// (the first at once, then one every 20 ms), within 5 %.
	addr := redistest.Addr(t)
	const n, r, d = 8, 50.0, 4 * time.Second
	fs := fleetOf(t, addr, testKey(t), n, Config{Rate: r})
	pacers := make([]*Pacer, n)
	for i, f := range fs {
		pacers[i] = f.Pacer
	}
	counts := countTokens(t, pacers, d)
	var total int64
	for _, c := range counts {
		total += c
	}
	want := r * d.Seconds()
	t.Logf("%d pacers at a shared %v/s for %v: %d tokens (%.2f %% off %v), per pacer %v",
		n, r, d, total, 100*(float64(total)-want)/want, want, counts)
	if math.Abs(float64(total)-want) > 0.05*want {
		t.Errorf("tokens = %d, want %v within 5 %%", total, want)
	}
	for i, c := range counts {
		if c == 0 {
			t.Errorf("pacer %d got no token", i)
		}
	}
}

func TestPacerSetLimit(t *testing.T) {
	addr := redistest.Addr(t)
	f := fleetOf(t, addr, testKey(t), 1, Config{Rate: 10})[0]
	p := f.Pacer
	// Three callers, as a Transport has: a waiter woken late (a loaded
	// machine) then loses no slot, since the next one is reserved.
	sum := func(c []int64) int64 { return c[0] + c[1] + c[2] }
	got := sum(countTokens(t, []*Pacer{p, p, p}, time.Second))
	if got < 9 || got > 11 {
		t.Errorf("tokens at 10/s for 1 s = %d, want 10 ± 1", got)
	}
	p.SetLimit(100)
	if p.Limit() != 100 {
		t.Errorf("Limit() = %v, want 100", p.Limit())
	}
	// The 10/s window can end on a slot granted at its deadline (and not
	// counted), which puts the next slot 100 ms on: start the 100/s window
	// after it, or it would begin with 10 slots' worth already spent.
	time.Sleep(100 * time.Millisecond)
	got = sum(countTokens(t, []*Pacer{p, p, p}, time.Second))
	if got < 95 || got > 105 {
		t.Errorf("tokens at 100/s for 1 s = %d, want 100 ± 5", got)
	}
	p.SetLimit(rate.Inf)
	start := time.Now()
	for range 1000 {
		must(t, "Wait at rate.Inf", p.Wait(context.Background()))
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("1000 Waits at rate.Inf took %v, want no Redis call", d)
	}
	p.SetLimit(0)
	var re *Error
	if err := p.Wait(context.Background()); !errors.As(err, &re) {
		t.Errorf("Wait at rate 0 = %v, want an *Error", err)
	}
}

func TestPacerWaitCancel(t *testing.T) {
	addr := redistest.Addr(t)
	f := fleetOf(t, addr, testKey(t), 1, Config{Rate: 0.1})[0]
	must(t, "first Wait", f.Pacer.Wait(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.Pacer.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past the deadline = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Wait took %v after a 100 ms deadline", d)
	}
}

func TestPacerCancelGivesSlotBack(t *testing.T) {
	addr := redistest.Addr(t)
	p := fleetOf(t, addr, testKey(t), 1, Config{Rate: 2})[0].Pacer
	must(t, "first Wait", p.Wait(context.Background()))
	// The second reserves the slot at +500 ms, then gives it back.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait = %v, want context.Canceled", err)
	}
	start := time.Now()
	must(t, "third Wait", p.Wait(context.Background()))
	// Its slot is the given-back one, 500 ms after the first, not 1 s.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Wait after a cancelled one took %v, want the slot back (about 450 ms)", d)
	}
}
