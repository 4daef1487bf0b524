package slotguard

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// The fakeShared's SharedBreaker: in memory, per type, as redisguard's.

// fakeOpening is one breaker of the fake: the key's, or a type's.
type fakeOpening struct {
	until time.Time // zero: closed
	code  string
	probe bool // its probe is out
}

// opening is typ's breaker, made on first use. f.mu held.
func (f *fakeShared) opening(typ string) *fakeOpening {
	if f.typed == nil {
		f.typed = map[string]*fakeOpening{}
	}
	o := f.typed[typ]
	if o == nil {
		o = &fakeOpening{}
		f.typed[typ] = o
	}
	return o
}

func (f *fakeShared) Allow(_ context.Context, typ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allows++
	if f.fail != nil {
		return false, f.fail
	}
	both := []*fakeOpening{&f.ban, f.opening(typ)} // the key's first
	for _, o := range both {
		if time.Now().Before(o.until) {
			return false, &OpenError{Code: o.code, Until: o.until}
		}
	}
	for _, o := range both {
		switch {
		case o.until.IsZero():
		case o.probe:
			return false, &OpenError{Code: o.code}
		default:
			o.probe = true
			if f.probes == nil {
				f.probes = map[string]*fakeOpening{}
			}
			f.probes[typ] = o
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeShared) Open(_ context.Context, typ string, until time.Time, code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	f.calls = append(f.calls, "open "+typ+" "+code)
	o := &f.ban
	if code == "" {
		o = f.opening(typ)
	}
	if until.After(o.until) {
		*o = fakeOpening{until: until, code: code}
	}
	return f.fail
}

func (f *fakeShared) Close(_ context.Context, typ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	f.calls = append(f.calls, "close "+typ)
	o := f.probes[typ]
	if o == nil {
		o = f.opening(typ)
	}
	delete(f.probes, typ)
	*o = fakeOpening{}
	return f.fail
}

func (f *fakeShared) Release(_ context.Context, typ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases++
	f.calls = append(f.calls, "release "+typ)
	if o := f.probes[typ]; o != nil {
		o.probe = false
		delete(f.probes, typ)
	}
	return f.fail
}

// typedProvider answers submits by method: userrecaptcha NO_SLOT while
// short, everything ERROR: 1001 while banned, OK otherwise; while hold is
// set, reCAPTCHA answers wait for it. Its fields are guarded by mu.
type typedProvider struct {
	byMethod
	short, ban bool
	hold       chan struct{}
}

func newTypedProvider(short bool) *typedProvider {
	p := &typedProvider{short: short}
	p.answer = func(m string) string {
		switch {
		case p.ban:
			return CodeBanNoSlot
		case p.short && m == "userrecaptcha":
			return CodeNoSlot
		}
		return "OK|1"
	}
	p.byMethod.hold = func(m string) chan struct{} {
		if m == "userrecaptcha" {
			return p.hold
		}
		return nil
	}
	return p
}

// TestSharedBreakerPerType: two Transports (two processes) share one
// breaker. A reCAPTCHA run of NO_SLOT answers at one opens reCAPTCHA for
// both, while both go on sending image captchas; after the open period one
// reCAPTCHA probe goes through for the fleet, and its acceptance closes it
// for both. A ban at one blocks every type at both (issue 14, item 5).
func TestSharedBreakerPerType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{}
		pa, pb := newTypedProvider(true), newTypedProvider(true)
		cfg := Config{Rate: math.Inf(1), Retry: Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: 3, OpenFor: 10 * time.Second}, Shared: Shared{Breaker: f}}
		a, b := mustNew(t, pa, cfg), mustNew(t, pb, cfg)
		send := func(tr *Transport, method string) error {
			resp, err := tr.RoundTrip(formReq(t, method))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		for range 3 {
			send(a, "userrecaptcha")
		}
		var oe *OpenError
		if err := send(b, "userrecaptcha"); !errors.As(err, &oe) || oe.Code != "" || oe.Until.IsZero() {
			t.Errorf("B's reCAPTCHA after A's NO_SLOT run: err = %v, want the fleet's reCAPTCHA opening", err)
		}
		for _, tr := range []*Transport{a, b} {
			if err := send(tr, "post"); err != nil {
				t.Errorf("post while reCAPTCHA is open: %v, want accepted", err)
			}
		}
		if pa.saw("userrecaptcha") != 3 || pb.saw("userrecaptcha") != 0 || pa.saw("post") != 1 || pb.saw("post") != 1 {
			t.Errorf("providers saw %v and %v, want A 3 reCAPTCHA, B none, one post each", pa.seen, pb.seen)
		}
		// After the open period: one reCAPTCHA probe for the fleet (A's,
		// whose own run is half-open), accepted; B's waits for it.
		time.Sleep(10*time.Second + 1)
		hold := make(chan struct{})
		pa.mu.Lock()
		pa.short, pa.hold = false, hold
		pa.mu.Unlock()
		probe := make(chan error)
		go func() { probe <- send(a, "userrecaptcha") }()
		synctest.Wait() // A's probe is at its provider
		if err := send(b, "userrecaptcha"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("B's reCAPTCHA with the fleet's probe out: err = %v, want ErrCircuitOpen", err)
		}
		if err := send(b, "post"); err != nil {
			t.Errorf("B's post with the reCAPTCHA probe out: %v, want accepted", err)
		}
		close(hold)
		if err := <-probe; err != nil {
			t.Fatalf("A's reCAPTCHA probe: %v", err)
		}
		if err := send(b, "userrecaptcha"); err != nil {
			t.Errorf("B's reCAPTCHA after the fleet's probe was accepted: %v", err)
		}
		f.mu.Lock()
		calls := slices.Clone(f.calls)
		f.mu.Unlock()
		if want := []string{"open recaptcha ", "close recaptcha"}; !slices.Equal(calls, want) {
			t.Errorf("shared breaker calls %q, want %q", calls, want)
		}
		// A ban at B blocks every type at A.
		pb.mu.Lock()
		pb.ban = true
		pb.mu.Unlock()
		send(b, "post")
		for _, m := range []string{"post", "userrecaptcha", "turnstile"} {
			if err := send(a, m); !errors.As(err, &oe) || oe.Code != CodeBanNoSlot {
				t.Errorf("A's %s after B's ban: err = %v, want the ban's OpenError", m, err)
			}
		}
		if pa.saw("post") != 1 || pa.saw("userrecaptcha") != 4 || pa.saw("turnstile") != 0 {
			t.Errorf("A's provider saw %v during the ban, want nothing more", pa.seen)
		}
	})
}
