package redisguard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// fleetCall is one call of a part of a Fleet. Budget.Done has no error:
// its call returns nil.
type fleetCall struct {
	name string
	call func() error
}

// fleetCalls are the calls of every part of f; Breaker.Open opens for open.
func fleetCalls(f *Fleet, open time.Duration) []fleetCall {
	ctx := context.Background()
	return []fleetCall{
		{"Pacer.Wait", func() error { return f.Pacer.Wait(ctx) }},
		{"Budget.Admit", func() error { return f.Budget.Admit(ctx) }},
		{"Budget.Done", func() error { f.Budget.Done(ctx, slotguard.OutcomeNoSlot); return nil }},
		{"Budget.Usage", func() error { _, err := f.Budget.Usage(ctx); return err }},
		{"Breaker.Allow", func() error { _, err := f.Breaker.Allow(ctx, ""); return err }},
		{"Breaker.Open", func() error { return f.Breaker.Open(ctx, "", time.Now().Add(open), "") }},
		{"Breaker.Close", func() error { return f.Breaker.Close(ctx, "") }},
		{"Threads.Acquire", func() error { _, err := f.Threads.Acquire(ctx, "", 0, 100, time.Minute); return err }},
		{"Threads.Accepted", func() error { return f.Threads.Accepted(ctx, "", "task1", time.Minute, 0, time.Minute) }},
		{"Threads.Release", func() error { return f.Threads.Release(ctx, "", 0) }},
		{"Threads.NoSlot", func() error { _, err := f.Threads.NoSlot(ctx, "", 0); return err }},
		{"Threads.Done", func() error { _, err := f.Threads.Done(ctx, "task1"); return err }},
		{"Threads.Usage", func() error { _, err := f.Threads.Usage(ctx); return err }},
	}
}

// callsFail checks that every call fails with an *Error, never a context
// error, within the timeout and some slack, and never panics.
func callsFail(t *testing.T, f *Fleet, timeout time.Duration, what string) {
	t.Helper()
	for _, c := range fleetCalls(f, time.Second) {
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
	reconnect(t, f) // ends the back-off of the failures before
	must(t, what+": Budget.Admit", f.Budget.Admit(ctx))
	f.Budget.Done(ctx, slotguard.OutcomeAccepted)
	must(t, what+": Pacer.Wait", f.Pacer.Wait(ctx))
	token, err := f.Threads.Acquire(ctx, "", 0, 100, time.Minute)
	must(t, what+": Threads.Acquire", err)
	must(t, what+": Threads.Release", f.Threads.Release(ctx, token, 0))
	// The process remembers the opening that callsFail made while Redis
	// was out of reach (and writes it back), so it may be open.
	if _, err := f.Breaker.Allow(ctx, ""); err != nil && !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("%s: Breaker.Allow = %v", what, err)
	}
}

// The outage tests below set a back-off of 1 ns, so that every call asks
// Redis and meets its Timeout; TestBackoff tests the back-off.

func TestRedisKilledAndRestarted(t *testing.T) {
	s := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Rate: 1000, Timeout: timeout, Backoff: time.Nanosecond})[0]
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
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Rate: 1000, Timeout: timeout, Backoff: time.Nanosecond})[0]
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
