package redisguard

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// allowAll calls Allow on every fleet at once and returns the probes and
// the refusals.
func allowAll(t *testing.T, fs []*Fleet) (probes, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fs {
		wg.Go(func() {
			<-start
			probe, err := f.Breaker.Allow(context.Background(), "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, slotguard.ErrCircuitOpen):
				refused++
			case err != nil:
				t.Errorf("Allow = %v", err)
			case probe:
				probes++
			}
		})
	}
	close(start)
	wg.Wait()
	return probes, refused
}

func TestBreakerOpenSeenByAll(t *testing.T) {
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 5, Config{})
	ctx := context.Background()
	if p, r := allowAll(t, fs); p != 0 || r != 0 {
		t.Fatalf("closed: %d probes, %d refused, want neither", p, r)
	}
	until := time.Now().Add(300 * time.Millisecond)
	must(t, "Open", fs[0].Breaker.Open(ctx, "", until, "ERROR: 1001"))
	for i, f := range fs {
		_, err := f.Breaker.Allow(ctx, "")
		var oe *slotguard.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, slotguard.ErrCircuitOpen) {
			t.Fatalf("fleet %d: Allow = %v, want an *OpenError", i, err)
		}
		if oe.Code != "ERROR: 1001" || oe.Until.Sub(until).Abs() > 20*time.Millisecond {
			t.Errorf("fleet %d: Allow = %+v, want code ERROR: 1001 until %v", i, oe, until)
		}
	}
	// A shorter opening does not cut the longer one.
	must(t, "Open shorter", fs[1].Breaker.Open(ctx, "", time.Now().Add(50*time.Millisecond), ""))
	time.Sleep(100 * time.Millisecond)
	if _, err := fs[2].Breaker.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow after a shorter opening = %v, want still open", err)
	}
}

func TestBreakerOneProbeFleetWide(t *testing.T) {
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 20, Config{ProbeTimeout: time.Minute})
	ctx := context.Background()
	must(t, "Open", fs[3].Breaker.Open(ctx, "", time.Now().Add(100*time.Millisecond), ""))
	if p, r := allowAll(t, fs); p != 0 || r != 20 {
		t.Fatalf("open: %d probes, %d refused, want 0 and 20", p, r)
	}
	time.Sleep(150 * time.Millisecond)
	for round := range 3 {
		if p, r := allowAll(t, fs); p+r != 20 || p != boolInt(round == 0) {
			t.Fatalf("after the opening, round %d: %d probes, %d refused, want %d probe", round, p, r, boolInt(round == 0))
		}
	}
	// The probe's Until is unknown while it is out.
	var oe *slotguard.OpenError
	if _, err := fs[0].Breaker.Allow(ctx, ""); !errors.As(err, &oe) || !oe.Until.IsZero() {
		t.Errorf("Allow with a probe out = %v, want an *OpenError without Until", err)
	}
	// Whoever probed closes it.
	for _, f := range fs {
		f.Breaker.mu.Lock()
		_, held := f.Breaker.probes[""]
		f.Breaker.mu.Unlock()
		if held {
			must(t, "Close", f.Breaker.Close(ctx, ""))
		}
	}
	if p, r := allowAll(t, fs); p != 0 || r != 0 {
		t.Errorf("after Close: %d probes, %d refused, want neither", p, r)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBreakerProbeNoSlotReopens(t *testing.T) {
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 2, Config{})
	ctx := context.Background()
	a, b := fs[0].Breaker, fs[1].Breaker
	must(t, "Open", a.Open(ctx, "", time.Now().Add(50*time.Millisecond), ""))
	time.Sleep(80 * time.Millisecond)
	if probe, err := a.Allow(ctx, ""); !probe || err != nil {
		t.Fatalf("Allow after the opening = %v, %v, want the probe", probe, err)
	}
	// The probe was answered NO_SLOT: the Transport opens again.
	must(t, "Open", a.Open(ctx, "", time.Now().Add(100*time.Millisecond), ""))
	if _, err := b.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow after the probe reopened = %v, want open", err)
	}
	time.Sleep(130 * time.Millisecond)
	if probe, err := b.Allow(ctx, ""); !probe || err != nil {
		t.Errorf("Allow after the second opening = %v, %v, want a new probe", probe, err)
	}
}

func TestBreakerProbeTimesOut(t *testing.T) {
	// A probe whose outcome never comes holds the fleet ProbeTimeout.
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 2, Config{ProbeTimeout: 150 * time.Millisecond})
	ctx := context.Background()
	must(t, "Open", fs[0].Breaker.Open(ctx, "", time.Now().Add(20*time.Millisecond), ""))
	time.Sleep(40 * time.Millisecond)
	if probe, _ := fs[0].Breaker.Allow(ctx, ""); !probe {
		t.Fatal("no probe after the opening")
	}
	if _, err := fs[1].Breaker.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow with a probe out = %v, want open", err)
	}
	time.Sleep(200 * time.Millisecond)
	if probe, err := fs[1].Breaker.Allow(ctx, ""); !probe || err != nil {
		t.Errorf("Allow after ProbeTimeout = %v, %v, want a new probe", probe, err)
	}
}

func TestBreakerStaleProbeDoesNotClose(t *testing.T) {
	// A probe of an opening since superseded (another process saw a ban)
	// closes nothing.
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 2, Config{})
	ctx := context.Background()
	a, b := fs[0].Breaker, fs[1].Breaker
	must(t, "Open", a.Open(ctx, "", time.Now().Add(20*time.Millisecond), ""))
	time.Sleep(40 * time.Millisecond)
	if probe, _ := a.Allow(ctx, ""); !probe {
		t.Fatal("no probe after the opening")
	}
	must(t, "Open (ban)", b.Open(ctx, "", time.Now().Add(time.Second), "ERROR: 1003"))
	must(t, "Close", a.Close(ctx, ""))
	var oe *slotguard.OpenError
	if _, err := b.Allow(ctx, ""); !errors.As(err, &oe) || oe.Code != "ERROR: 1003" {
		t.Errorf("Allow after a stale probe's Close = %v, want the ban standing", err)
	}
}

func TestBreakerOpenNeedsNoRoundTrip(t *testing.T) {
	// Once a process has seen the opening, it refuses without Redis until
	// the opening's end: a stalled Redis does not slow it.
	s := redistest.Start(t)
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{})[0]
	ctx := context.Background()
	must(t, "Open", f.Breaker.Open(ctx, "", time.Now().Add(time.Minute), ""))
	if _, err := f.Breaker.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Fatalf("Allow = %v, want open", err)
	}
	s.Pause()
	defer s.Resume()
	start := time.Now()
	for range 100 {
		if _, err := f.Breaker.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
			t.Fatalf("Allow with Redis stalled = %v, want open", err)
		}
	}
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Errorf("100 Allows while open took %v, want no round trip", d)
	}
}

func TestBreakerRelease(t *testing.T) {
	// A probe whose answer proved nothing is released: the next submit
	// of the fleet probes at once, not after ProbeTimeout (issue 11: the
	// whole fleet waited 30 s), and the breaker stays tripped.
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 3, Config{ProbeTimeout: time.Minute})
	a, b, c := fs[0].Breaker, fs[1].Breaker, fs[2].Breaker
	ctx := context.Background()
	must(t, "Release without a probe", a.Release(ctx, ""))
	must(t, "Open", a.Open(ctx, "", time.Now().Add(20*time.Millisecond), ""))
	time.Sleep(40 * time.Millisecond)
	if probe, err := a.Allow(ctx, ""); !probe || err != nil {
		t.Fatalf("Allow after the opening = %v, %v, want the probe", probe, err)
	}
	if _, err := b.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Fatalf("Allow with a probe out = %v, want open", err)
	}
	must(t, "Release", a.Release(ctx, ""))
	if probe, err := b.Allow(ctx, ""); !probe || err != nil {
		t.Fatalf("Allow after Release = %v, %v, want the next probe at once", probe, err)
	}
	if _, err := c.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow with the next probe out = %v, want open: the breaker stays tripped", err)
	}
	// a no longer holds a probe: its Release leaves b's alone.
	must(t, "Release again", a.Release(ctx, ""))
	if _, err := c.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow after a second Release = %v, want b's probe still out", err)
	}
	must(t, "Close", b.Close(ctx, ""))
	if probe, err := c.Allow(ctx, ""); probe || err != nil {
		t.Errorf("Allow after the probe's Close = %v, %v, want closed", probe, err)
	}
}

func TestBreakerReleaseAfterTimeout(t *testing.T) {
	// A probe that timed out and went to another process is that
	// process's: the first prober's late Release does not end it.
	addr := redistest.Addr(t)
	fs := fleetOf(t, addr, testKey(t), 3, Config{ProbeTimeout: 100 * time.Millisecond})
	a, b, c := fs[0].Breaker, fs[1].Breaker, fs[2].Breaker
	ctx := context.Background()
	must(t, "Open", a.Open(ctx, "", time.Now().Add(20*time.Millisecond), ""))
	time.Sleep(40 * time.Millisecond)
	if probe, _ := a.Allow(ctx, ""); !probe {
		t.Fatal("no probe after the opening")
	}
	time.Sleep(150 * time.Millisecond)
	if probe, _ := b.Allow(ctx, ""); !probe {
		t.Fatal("no probe after ProbeTimeout")
	}
	must(t, "late Release", a.Release(ctx, ""))
	if _, err := c.Allow(ctx, ""); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("Allow after a timed-out probe's Release = %v, want the new probe still out", err)
	}
}
