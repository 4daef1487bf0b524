package slotguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeShared is a Shared whose parts can fail, counting their calls.
type fakeShared struct {
	mu                    sync.Mutex
	fail                  error
	waits, admits, dones  int
	opens, closes, allows int
	openUntil             time.Time
	outcomes              []Outcome
	probeTaken            bool
}

func (f *fakeShared) Wait(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits++
	return f.fail
}

func (f *fakeShared) Admit(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.admits++
	return nil
}

func (f *fakeShared) Done(_ context.Context, o Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dones++
	f.outcomes = append(f.outcomes, o)
}

func (f *fakeShared) Allow(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allows++
	if f.fail != nil {
		return false, f.fail
	}
	if time.Now().Before(f.openUntil) {
		return false, &OpenError{Until: f.openUntil}
	}
	if !f.openUntil.IsZero() && !f.probeTaken {
		f.probeTaken = true
		return true, nil
	}
	return false, nil
}

func (f *fakeShared) Open(_ context.Context, until time.Time, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	f.openUntil, f.probeTaken = until, false
	return f.fail
}

func (f *fakeShared) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	f.openUntil = time.Time{}
	return f.fail
}

// TestSharedState: the shared parts are called once per attempt, an opening
// is shared, the fleet's probe result closes it, and a failing store falls
// back to local limits, logged once.
func TestSharedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{}
		s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
		var logs logBuffer
		tr := mustNew(t, memRT{s}, Config{
			Retry:   Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: 2, OpenFor: 10 * time.Second},
			Shared:  Shared{Pacer: f, Budget: f, Breaker: f},
			Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		})
		submit := func() error {
			resp, err := tr.RoundTrip(submitReq(t))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		submit()
		submit() // the local breaker opens, and shares it
		if f.opens != 1 || f.waits != 2 || f.admits != 2 || f.dones != 2 {
			t.Errorf("opens %d, waits %d, admits %d, dones %d; want 1, 2, 2, 2", f.opens, f.waits, f.admits, f.dones)
		}
		time.Sleep(11 * time.Second)
		if err := submit(); err != nil { // the fleet's probe, accepted
			t.Fatal(err)
		}
		if f.closes != 1 || fmt.Sprint(f.outcomes) != fmt.Sprint([]Outcome{OutcomeNoSlot, OutcomeNoSlot, OutcomeAccepted}) {
			t.Errorf("closes %d, outcomes %v; want 1 and NO_SLOT, NO_SLOT, accepted", f.closes, f.outcomes)
		}
		// Another process opened the fleet's breaker: this one fails fast.
		f.Open(context.Background(), time.Now().Add(time.Minute), CodeBanNoSlot)
		if err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("fleet open: err = %v, want ErrCircuitOpen", err)
		}
		// The store fails: local limits stand in, logged once.
		f.mu.Lock()
		f.fail, f.openUntil = errors.New("redis: i/o timeout"), time.Time{}
		f.mu.Unlock()
		for range 3 {
			if err := submit(); err != nil {
				t.Fatalf("store down: %v", err)
			}
		}
		if n := strings.Count(logs.String(), "shared state unavailable"); n != 3 || !tr.Stats().SharedDown {
			t.Errorf("logged %d times (one per part), SharedDown %v; want 3 and true:\n%s", n, tr.Stats().SharedDown, logs.String())
		}
		f.mu.Lock()
		f.fail = nil
		f.mu.Unlock()
		submit()
		if tr.Stats().SharedDown || !strings.Contains(logs.String(), "shared state back") {
			t.Errorf("after the store recovered: SharedDown %v, log:\n%s", tr.Stats().SharedDown, logs.String())
		}
	})
}
