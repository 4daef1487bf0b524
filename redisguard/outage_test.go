package redisguard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// callsFail checks that every call fails with an *Error, never a context
// error, within the timeout and some slack, and never panics.
func callsFail(t *testing.T, f *Fleet, timeout time.Duration, what string) {
	t.Helper()
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Pacer.Wait", func() error { return f.Pacer.Wait(ctx) }},
		{"Budget.Admit", func() error { return f.Budget.Admit(ctx) }},
		{"Budget.Done", func() error { f.Budget.Done(ctx, slotguard.OutcomeNoSlot); return nil }},
		{"Breaker.Allow", func() error { _, err := f.Breaker.Allow(ctx); return err }},
		{"Breaker.Open", func() error { return f.Breaker.Open(ctx, time.Now().Add(time.Second), "") }},
		{"Breaker.Close", func() error { return f.Breaker.Close(ctx) }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		d := time.Since(start)
		var re *Error
		if c.name != "Budget.Done" && (!errors.As(err, &re) || errors.Is(err, context.DeadlineExceeded)) {
			t.Errorf("%s: %s = %v, want an *Error that is no context error", what, c.name, err)
		}
		if d > timeout+100*time.Millisecond {
			t.Errorf("%s: %s took %v, want at most the timeout %v (and slack)", what, c.name, d, timeout)
		}
		t.Logf("%s: %s returned in %v: %v", what, c.name, d.Round(time.Microsecond), err)
	}
}

func callsWork(t *testing.T, f *Fleet, what string) {
	t.Helper()
	ctx := context.Background()
	// A connection the pool kept from before may fail once: give the
	// client a few tries to reconnect.
	var err error
	for range 20 {
		if err = f.Budget.Admit(ctx); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: Budget.Admit = %v, want it to work again", what, err)
	}
	f.Budget.Done(ctx, slotguard.OutcomeAccepted)
	must(t, what+": Pacer.Wait", f.Pacer.Wait(ctx))
	if _, err := f.Breaker.Allow(ctx); err != nil {
		t.Errorf("%s: Breaker.Allow = %v", what, err)
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	s := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Rate: 1000, Timeout: timeout})[0]
	callsWork(t, f, "up")
	s.Stop()
	callsFail(t, f, timeout, "killed")
	s.Restart()
	callsWork(t, f, "restarted")
}

func TestRedisStalled(t *testing.T) {
	// A stalled Redis (SIGSTOP: the socket accepts, nothing answers)
	// costs each call the timeout, no more.
	s := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Rate: 1000, Timeout: timeout})[0]
	callsWork(t, f, "up")
	s.Pause()
	callsFail(t, f, timeout, "stalled")
	s.Resume()
	callsWork(t, f, "resumed")
}

func TestContextEndsBeforeTimeout(t *testing.T) {
	// The request's own deadline, shorter than the timeout, gives the
	// context's error, so the Transport does not take it for an outage.
	s := redistest.Start(t)
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Timeout: time.Second})[0]
	callsWork(t, f, "up")
	s.Pause()
	defer s.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := f.Budget.Admit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Admit past the request's deadline = %v, want context.DeadlineExceeded", err)
	}
}
