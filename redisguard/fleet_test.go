package redisguard

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// N slotguard Transports, each with Config.Shared from its own Fleet (its
// own Redis client), over the fake provider: N processes of one fleet.
// Outside synctest: Redis is a socket.

func submit(ctx context.Context, rt http.RoundTripper) (string, error) {
	form := url.Values{"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"}, "googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func transports(t *testing.T, base func(i int) http.RoundTripper, fs []*Fleet, cfg slotguard.Config) []*slotguard.Transport {
	t.Helper()
	ts := make([]*slotguard.Transport, len(fs))
	for i, f := range fs {
		c := cfg
		c.Shared = f.Shared()
		tr, err := slotguard.New(base(i), c)
		if err != nil {
			t.Fatalf("slotguard.New: %v", err)
		}
		ts[i] = tr
	}
	return ts
}

// hammer submits from k goroutines per Transport until ctx ends.
func hammer(ctx context.Context, ts []*slotguard.Transport, k int) {
	var wg sync.WaitGroup
	for _, tr := range ts {
		for range k {
			wg.Go(func() {
				for ctx.Err() == nil {
					submit(ctx, tr)
				}
			})
		}
	}
	wg.Wait()
}

func submitsSeen(st captchaaitest.Stats) int {
	n := st.Accepted
	for _, k := range st.Rejected {
		n += k
	}
	return n
}

func TestTransportsShareOnePace(t *testing.T) {
	// 4 Transports at a local 20/s each would send 80/s; sharing 10/s,
	// the provider sees 10/s.
	addr := redistest.Addr(t)
	p := captchaaitest.New(captchaaitest.Config{Accounts: []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: 1000}}})
	defer p.Close()
	const n, rate, run = 4, 10.0, 2 * time.Second
	fs := fleetOf(t, addr, testKey(t), n, Config{Rate: rate})
	ts := transports(t, func(int) http.RoundTripper { return p.Transport() }, fs, slotguard.Config{Rate: 20})
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	hammer(ctx, ts, 3)
	got := submitsSeen(p.Stats(captchaaitest.DefaultKey))
	want := rate * run.Seconds()
	t.Logf("%d Transports sharing %v/s for %v: the provider saw %d submits (want %v; unshared: %v)", n, rate, run, got, want, 4*20*run.Seconds())
	if math.Abs(float64(got)-want) > 0.1*want+1 {
		t.Errorf("submits = %d, want %v within 10 %% + 1", got, want)
	}
	for i, tr := range ts {
		if tr.Stats().SharedDown {
			t.Errorf("Transport %d: SharedDown, want the shared state used", i)
		}
	}
}

func TestTransportsShareOneBan(t *testing.T) {
	// Transport 0 is answered ERROR: 1001; the others then fail fast
	// without a submit reaching the provider.
	addr := redistest.Addr(t)
	p := captchaaitest.New(captchaaitest.Config{})
	defer p.Close()
	fs := fleetOf(t, addr, testKey(t), 3, Config{Rate: math.Inf(1)})
	banned := http.RoundTripper(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ERROR: 1001")), Request: req}, nil
	}))
	ts := transports(t, func(i int) http.RoundTripper {
		if i == 0 {
			return banned
		}
		return p.Transport()
	}, fs, slotguard.Config{})
	ctx := ctxFor(t, 5*time.Second)
	if got, err := submit(ctx, ts[0]); err != nil || got != "ERROR: 1001" {
		t.Fatalf("submit through the banned one = %q, %v, want ERROR: 1001", got, err)
	}
	for i, tr := range ts[1:] {
		_, err := submit(ctx, tr)
		var oe *slotguard.OpenError
		if !errors.As(err, &oe) || oe.Code != "ERROR: 1001" || time.Until(oe.Until) < 9*time.Minute {
			t.Errorf("Transport %d: submit = %v, want the fleet's 10-minute ERROR: 1001 opening", i+1, err)
		}
	}
	if got := submitsSeen(p.Stats(captchaaitest.DefaultKey)); got != 0 {
		t.Errorf("the provider saw %d submits, want 0", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportsShareOneBudget(t *testing.T) {
	// Every submit finds the slots full. 4 Transports, each with its own
	// budget of 110 a minute, share one of 20; at a time scale of 60 (a
	// minute is 1 s) the provider must see at most 20 NO_SLOT answers in
	// any of its minutes, and ban nobody.
	addr := redistest.Addr(t)
	const n, line, scale = 4, 20, 60
	p := captchaaitest.New(captchaaitest.Config{
		TimeScale: scale,
		Faults: func(captchaaitest.FaultInfo) captchaaitest.Fault {
			return captchaaitest.Fault{Kind: captchaaitest.NoSlot}
		},
	})
	defer p.Close()
	fs := fleetOf(t, addr, testKey(t), n, Config{
		Rate:      math.Inf(1),
		TimeScale: scale,
		Budget:    slotguard.BudgetConfig{NoSlotPerMinute: line},
	})
	ts := transports(t, func(int) http.RoundTripper { return p.Transport() }, fs, slotguard.Config{
		Rate:      10,
		TimeScale: scale,
		Breaker:   slotguard.BreakerConfig{Failures: slotguard.Unlimited},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	hammer(ctx, ts, 3)
	st := p.Stats(captchaaitest.DefaultKey)
	t.Logf("NO_SLOT answers per provider minute: %v (line %d); bans %v", st.NoSlotPerMinute, line, st.Bans)
	total := 0
	for i, k := range st.NoSlotPerMinute {
		total += k
		if k > line {
			t.Errorf("minute %d: %d NO_SLOT answers, want at most %d", i, k, line)
		}
	}
	if len(st.Bans) != 0 {
		t.Errorf("bans = %v, want none", st.Bans)
	}
	if total < 2*line {
		t.Errorf("NO_SLOT answers = %d, want the fleet to use its budget (at least %d)", total, 2*line)
	}
}
