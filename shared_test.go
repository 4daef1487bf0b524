package slotguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
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
	releases              int
	outcomes              []Outcome
	// The breaker (sharedbreaker_test.go): the key's opening, each type's,
	// the opening each type's probe was taken for, and the calls by type.
	ban    fakeOpening
	typed  map[string]*fakeOpening
	probes map[string]*fakeOpening
	calls  []string
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
		f.Open(context.Background(), TypeImage, time.Now().Add(time.Minute), CodeBanNoSlot)
		if err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("fleet open: err = %v, want ErrCircuitOpen", err)
		}
		// The store fails: local limits stand in, logged once.
		f.mu.Lock()
		f.fail, f.ban = errors.New("redis: i/o timeout"), fakeOpening{}
		f.mu.Unlock()
		for range 3 {
			if err := submit(); err != nil {
				t.Fatalf("store down: %v", err)
			}
		}
		if n := strings.Count(logs.String(), "shared state unavailable"); n != 1 || !tr.Stats().SharedDown {
			t.Errorf("logged %d times, SharedDown %v; want one outage and true:\n%s", n, tr.Stats().SharedDown, logs.String())
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

// TestSharedProbeReleased: the fleet's probe whose answer proves nothing
// (neither accepted nor NO_SLOT: a key error, a 500, no answer) releases the
// fleet's probe at once, rather than holding every process for the
// shared breaker's bounded time (issue 11). An accepted probe closes it
// and releases nothing; a NO_SLOT probe reopens typ's, and releases the
// probe, which may have been the key's (after a ban).
func TestSharedProbeReleased(t *testing.T) {
	tests := []struct {
		name                     string
		answer                   func() (*http.Response, error)
		releases, closes, reopen int
	}{
		{"key error", func() (*http.Response, error) { return textResp(200, "ERROR_WRONG_USER_KEY"), nil }, 1, 0, 0},
		{"500", func() (*http.Response, error) { return textResp(500, "oops"), nil }, 1, 0, 0},
		{"no answer", func() (*http.Response, error) { return nil, errors.New("connection reset") }, 1, 0, 0},
		{"accepted", func() (*http.Response, error) { return textResp(200, "OK|1"), nil }, 0, 1, 0},
		{"NO_SLOT", func() (*http.Response, error) { return textResp(200, CodeNoSlot), nil }, 1, 0, 1},
		// A ban opens the key, and ends the probe: a store must not keep
		// this process's probe for the type until it times out.
		{"ban", func() (*http.Response, error) { return textResp(200, CodeBanNoSlot), nil }, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeShared{} // open, its time past: the next Allow probes
				f.typed = map[string]*fakeOpening{TypeRecaptcha: {until: time.Now().Add(-time.Second)}}
				base := rtFunc(func(r *http.Request) (*http.Response, error) {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					return tt.answer()
				})
				tr := mustNew(t, base, Config{Retry: Backoff{Attempts: 1}, Shared: Shared{Breaker: f}})
				if resp, err := tr.RoundTrip(submitReq(t)); err == nil {
					resp.Body.Close()
				}
				if f.releases != tt.releases || f.closes != tt.closes || f.opens != tt.reopen {
					t.Errorf("releases %d, closes %d, opens %d; want %d, %d, %d",
						f.releases, f.closes, f.opens, tt.releases, tt.closes, tt.reopen)
				}
			})
		})
	}
}

// TestLocalOpeningReasserted: while the local breaker holds a ban, each
// refused submit writes it to the shared breaker again, at most once a
// second, so that a store that lost its state learns it back.
func TestLocalOpeningReasserted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{}
		tr := mustNew(t, memRT{answers(CodeBanNoSlot)}, Config{Shared: Shared{Breaker: f}})
		resp, err := tr.RoundTrip(submitReq(t))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if f.opens != 1 {
			t.Fatalf("the ban opened the shared breaker %d times, want 1", f.opens)
		}
		f.mu.Lock()
		f.ban = fakeOpening{} // the store lost it
		f.mu.Unlock()
		for range 10 { // 10 refusals in 2.5 s
			if _, err := tr.RoundTrip(submitReq(t)); !errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("err = %v, want ErrCircuitOpen", err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		if f.opens != 1+3 || !f.ban.until.After(time.Now().Add(9*time.Minute)) {
			t.Errorf("opens %d (want 4: the ban, then once a second), shared opening until %v", f.opens, f.ban.until)
		}
	})
}

// fakeThreads is a SharedThreads that counts permits out, like the fleet's
// store, and can fail.
type fakeThreads struct {
	mu       sync.Mutex
	fail     error
	capacity int
	pending  map[string]bool
	leases   map[string]time.Duration // id: ceiling
	seq      int
	calls    []string
}

func newFakeThreads(capacity int) *fakeThreads {
	return &fakeThreads{capacity: capacity, pending: map[string]bool{}, leases: map[string]time.Duration{}}
}

func (f *fakeThreads) note(call string) error {
	f.calls = append(f.calls, call)
	return f.fail
}

func (f *fakeThreads) Acquire(ctx context.Context, typ string, plan, overbook int, _ time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.note("acquire " + typ); err != nil {
		return "", err
	}
	if len(f.pending)+len(f.leases) >= f.capacity+overbook {
		return "", errors.New("fakeThreads: full (the test does not wait)")
	}
	f.seq++
	token := strconv.Itoa(f.seq)
	f.pending[token] = true
	return token, nil
}

func (f *fakeThreads) Accepted(_ context.Context, token, id string, ceiling time.Duration, _ int, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, token)
	f.leases[id] = ceiling
	return f.note("accepted " + id)
}

func (f *fakeThreads) Release(_ context.Context, token string, ceiling time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, token)
	if ceiling > 0 {
		f.leases["?"+token] = ceiling
	}
	return f.note(fmt.Sprintf("release %v", ceiling))
}

func (f *fakeThreads) NoSlot(_ context.Context, typ string, _ int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.leases) >= f.capacity, f.note("noslot " + typ)
}

func (f *fakeThreads) Done(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.leases[id]
	delete(f.leases, id)
	return ok, f.note("done " + id)
}

// TestSharedThreads: with Shared.Threads, permits come from the fleet's
// store: an accepted task's lease carries its id and ceiling, a refused
// submit gives its permit back, one that may have been accepted keeps it to
// the ceiling, NO_SLOT answers are judged on the fleet's count (each call
// naming the submit's task type), and a poll
// or TaskDone ends the lease whichever process took it. A failing store
// leaves the Transport on its own permits.
func TestSharedThreads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeThreads(1)
		s := newScript(func(n int, _ []byte) (int, string) {
			switch n {
			case 2, 3:
				return 200, CodeNoSlot // the fleet's one thread is busy: probes
			case 5:
				return 200, "ERROR_WRONG_USER_KEY"
			}
			return 200, "OK|" + strconv.Itoa(n)
		})
		tr := mustNew(t, memRT{s}, Config{Threads: Threads{Enabled: true, Overbook: 1, Ceiling: time.Minute},
			Retry: Backoff{Attempts: 1}, Shared: Shared{Threads: f}})
		send := func() string {
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		// Attempts 1, but a NO_SLOT with the fleet's thread taken is a
		// probe: retried until accepted.
		for _, want := range []string{"OK|1", "OK|4"} {
			if got := send(); got != want {
				t.Fatalf("submit = %q, want %q", got, want)
			}
		}
		resp, err := tr.RoundTrip(pollReq(t, "1")) // not ready: the lease stays
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !tr.TaskDone("1") || tr.TaskDone("1") {
			t.Error("TaskDone: want true once for the fleet's lease, then false")
		}
		if got := send(); got != "ERROR_WRONG_USER_KEY" {
			t.Fatalf("third submit = %q", got)
		}
		f.mu.Lock()
		calls := strings.Join(f.calls, ", ")
		f.mu.Unlock()
		want := "acquire recaptcha, accepted 1, acquire recaptcha, noslot recaptcha, noslot recaptcha, accepted 4, done 1, done 1, " +
			"acquire recaptcha, release 0s"
		if calls != want {
			t.Errorf("store calls:\n%s\nwant\n%s", calls, want)
		}
		if st := tr.Stats().Threads; st.Held != 0 {
			t.Errorf("local permits %+v, want none held: the fleet's store holds them", st)
		}
		// The store fails: the Transport's own permits stand in.
		f.mu.Lock()
		f.fail = errors.New("redis: i/o timeout")
		f.mu.Unlock()
		send()
		if st := tr.Stats(); st.Threads.Held != 1 || !st.SharedDown {
			t.Errorf("store down: %+v, want a local permit held and SharedDown", st)
		}
	})
}

// TestTypedOpeningsReasserted: while the local breaker holds two types'
// openings, each is written to the shared breaker again once a second,
// however often the other type's submits are refused first: the store
// that lost them learns both back.
func TestTypedOpeningsReasserted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeShared{}
		base := &byMethod{answer: func(string) string { return CodeNoSlot }}
		tr := mustNew(t, base, Config{
			Retry:   Backoff{Attempts: 1},
			Breaker: BreakerConfig{Failures: 2, OpenFor: time.Minute},
			Shared:  Shared{Breaker: f},
		})
		send := func(method string) error {
			resp, err := tr.RoundTrip(formReq(t, method))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		for _, m := range []string{"userrecaptcha", "userrecaptcha", "hcaptcha", "hcaptcha"} {
			send(m)
		}
		if f.opens != 2 {
			t.Fatalf("two runs opened the shared breaker %d times, want 2", f.opens)
		}
		f.mu.Lock()
		f.typed = nil // the store lost them
		f.mu.Unlock()
		for range 20 { // 5 s: reCAPTCHA refused first each time
			for _, m := range []string{"userrecaptcha", "hcaptcha"} {
				if err := send(m); !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("%s: err = %v, want ErrCircuitOpen", m, err)
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, typ := range []string{TypeRecaptcha, TypeHCaptcha} {
			if o := f.typed[typ]; o == nil || !o.until.After(time.Now()) {
				t.Errorf("shared opening of %s after 5 s of refusals = %+v, want written back", typ, o)
			}
		}
		if base.saw("userrecaptcha") != 2 || base.saw("hcaptcha") != 2 {
			t.Errorf("provider saw %v, want 2 of each", base.seen)
		}
	})
}
