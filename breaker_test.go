package slotguard

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sony/gobreaker/v2"
)

// TestBreaker: opens after Failures NO_SLOT answers, fails fast without the
// network or a token, lets one probe through after OpenFor.
// It is long because it walks one breaker through its states in order.
func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accept := false
		var mu sync.Mutex
		s := newScript(func(n int, _ []byte) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			if accept {
				return 200, "OK|9"
			}
			return 200, CodeNoSlot
		})
		cfg := Config{Rate: 1, Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 3, OpenFor: 10 * time.Second}}
		tr := mustNew(t, memRT{s}, cfg)
		client := &http.Client{Transport: tr}
		submit := func() (*http.Response, error) {
			resp, err := client.Do(submitReq(t))
			if err == nil {
				readAll(t, resp)
			}
			return resp, err
		}
		for range 3 {
			if _, err := submit(); err != nil {
				t.Fatal(err)
			}
		}
		openedAt := time.Now()
		before := time.Now()
		_, err := submit()
		if !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("4th submit: err = %v, want ErrCircuitOpen", err)
		}
		var oe *OpenError
		if !errors.As(err, &oe) || !oe.Until.Equal(openedAt.Add(10*time.Second)) {
			t.Errorf("OpenError = %+v, want Until 10s after the opening", oe)
		}
		if time.Since(before) != 0 || s.hits() != 3 {
			t.Errorf("fail fast took %v and %d hits, want 0s and 3", time.Since(before), s.hits())
		}
		if st := tr.Stats(); st.Breaker != gobreaker.StateOpen || st.BreakerOpens != 1 || st.FailedFast != 1 {
			t.Errorf("Stats breaker = %v, opens %d, failed fast %d; want open, 1, 1", st.Breaker, st.BreakerOpens, st.FailedFast)
		}
		// The failure came at 2 s (pacing at 1/s); open until 12 s.
		time.Sleep(10*time.Second - 1)
		if _, err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("just before OpenFor: err = %v, want ErrCircuitOpen", err)
		}
		time.Sleep(2 * time.Nanosecond) // gobreaker half-opens once its expiry is strictly past
		if _, err := submit(); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s.hits() != 4 {
			t.Errorf("hits after the probe = %d, want 4", s.hits())
		}
		if _, err := submit(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("after a NO_SLOT probe: err = %v, want ErrCircuitOpen (open again)", err)
		}
		time.Sleep(10*time.Second + 1)
		mu.Lock()
		accept = true
		mu.Unlock()
		for i := range 3 {
			if _, err := submit(); err != nil {
				t.Fatalf("submit %d after an accepted probe: %v", i, err)
			}
		}
	})
}

// TestBanHoldsBreaker: each ban answer is handed back, then holds the
// breaker open for exactly its published length.
func TestBanHoldsBreaker(t *testing.T) {
	for _, tt := range []struct {
		code string
		hold time.Duration
	}{
		{CodeBanNoSlot, 10 * time.Minute},
		{CodeBanZeroBalance, 5 * time.Minute},
		{CodeBanNoSlotShare, 30 * time.Second},
	} {
		t.Run(tt.code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(tt.code, "OK|1")
				tr := mustNew(t, memRT{s}, noPacing)
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != tt.code {
					t.Errorf("body = %q, want the ban answer %q", got, tt.code)
				}
				time.Sleep(tt.hold - 1)
				_, err = tr.RoundTrip(submitReq(t))
				var oe *OpenError
				if !errors.As(err, &oe) || oe.Code != tt.code || !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("during the ban: err = %v, want an OpenError for %s", err, tt.code)
				}
				time.Sleep(time.Nanosecond)
				resp, err = tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatalf("after the ban: %v", err)
				}
				resp.Body.Close()
				if s.hits() != 2 {
					t.Errorf("hits = %d, want 2", s.hits())
				}
			})
		})
	}
}

// formReq is a submit of method in a urlencoded form.
func formReq(t *testing.T, method string) *http.Request {
	t.Helper()
	form := url.Values{"key": {testKey}, "method": {method}, "pageurl": {"https://example.com/"}}
	req, err := http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// TestBreakerPerType: NO_SLOT is per worker pool, so a run of them opens
// the breaker of that task type only: image submits go on while the
// reCAPTCHA workers are short (issue 14). A ban blocks the whole key.
func TestBreakerPerType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ban := false
		base := &byMethod{answer: func(m string) string {
			switch {
			case ban:
				return CodeBanNoSlot
			case m == "userrecaptcha":
				return CodeNoSlot
			}
			return "OK|1"
		}}
		tr := mustNew(t, base, Config{Rate: math.Inf(1), Retry: Backoff{Attempts: 1}, Breaker: BreakerConfig{Failures: 3}})
		send := func(method string) error {
			resp, err := tr.RoundTrip(formReq(t, method))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		for range 3 {
			send("userrecaptcha")
		}
		if err := send("userrecaptcha"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("reCAPTCHA after 3 NO_SLOT: err = %v, want ErrCircuitOpen", err)
		}
		for _, m := range []string{"post", "base64", "hcaptcha"} {
			if err := send(m); err != nil {
				t.Errorf("%s while the reCAPTCHA breaker is open: %v, want accepted", m, err)
			}
		}
		st := tr.Stats()
		if st.Breaker != gobreaker.StateOpen || st.BreakerOpens != 1 {
			t.Errorf("Stats: Breaker %v, opens %d; want open (its worst run) and 1", st.Breaker, st.BreakerOpens)
		}
		if r, p := base.saw("userrecaptcha"), base.saw("post"); r != 3 || p != 1 {
			t.Errorf("provider saw %d reCAPTCHA and %d post, want 3 and 1", r, p)
		}
		base.mu.Lock()
		ban = true
		base.mu.Unlock()
		send("post")
		for _, m := range []string{"post", "userrecaptcha", "turnstile"} {
			var oe *OpenError
			if err := send(m); !errors.As(err, &oe) || oe.Code != CodeBanNoSlot {
				t.Errorf("%s during a ban: err = %v, want the ban's OpenError", m, err)
			}
		}
	})
}

// TestBreakerTypesBounded: a caller who sends random method names gets at
// most maxTypes runs kept apart; the rest share the untyped one.
func TestBreakerTypesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := mustNew(t, memRT{answers("OK|1")}, Config{Rate: math.Inf(1)})
		for i := range 3 * maxTypes {
			resp, err := tr.RoundTrip(formReq(t, "random"+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if n := len(tr.breaker.typeStates()); n != maxTypes {
			t.Errorf("%d typed runs after %d method names, want %d", n, 3*maxTypes, maxTypes)
		}
	})
}
