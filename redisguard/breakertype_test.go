package redisguard

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// The fleet's breaker per task type (issue 14, item 5): Transports of one
// fleet, each with its own Redis client, over providers that answer by
// in.php method.

// methodProvider answers userrecaptcha NO_SLOT while short, every method
// ERROR: 1001 while banned, random* NO_SLOT always, and OK otherwise; it
// counts what it saw by method.
type methodProvider struct {
	mu         sync.Mutex
	short, ban bool
	seen       map[string]int
}

func (p *methodProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	q, _ := url.ParseQuery(string(b))
	m := q.Get("method")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	p.seen[m]++
	text := "OK|1"
	switch {
	case p.ban:
		text = "ERROR: 1001"
	case p.short && m == "userrecaptcha", strings.HasPrefix(m, "random"):
		text = slotguard.CodeNoSlot
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(text)), Request: r}, nil
}

func (p *methodProvider) saw(m string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[m]
}

func (p *methodProvider) set(short, ban bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.short, p.ban = short, ban
}

// sendMethod submits one task of in.php method m through rt.
func sendMethod(ctx context.Context, rt http.RoundTripper, m string) error {
	form := url.Values{"key": {"k"}, "method": {m}, "pageurl": {"https://example.com/"}}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// typedFleet is two Transports of one fleet in the Redis at addr, over
// providers of their own; nothing but the breaker limits them.
func typedFleet(t *testing.T, addr string) ([]*Fleet, []*slotguard.Transport, []*methodProvider) {
	t.Helper()
	off := slotguard.BudgetConfig{NoSlotPerMinute: slotguard.Unlimited, SubmitsPer3s: slotguard.Unlimited}
	fs := fleetOf(t, addr, testKey(t), 2, Config{Rate: math.Inf(1), Budget: off})
	ps := []*methodProvider{{short: true}, {short: true}}
	ts := transports(t, func(i int) http.RoundTripper { return ps[i] }, fs, slotguard.Config{
		Rate: math.Inf(1), Budget: off, Retry: slotguard.Backoff{Attempts: 1},
		Breaker: slotguard.BreakerConfig{Failures: 3, OpenFor: time.Minute},
	})
	return fs, ts, ps
}

func TestTransportsShareTypedOpening(t *testing.T) {
	// A's run of reCAPTCHA NO_SLOT answers opens reCAPTCHA for A and B,
	// and both go on sending image captchas; a ban at B then blocks every
	// type at A.
	_, ts, ps := typedFleet(t, redistest.Addr(t))
	a, b := ts[0], ts[1]
	ctx := ctxFor(t, 10*time.Second)
	for range 3 {
		sendMethod(ctx, a, "userrecaptcha")
	}
	var oe *slotguard.OpenError
	if err := sendMethod(ctx, b, "userrecaptcha"); !errors.As(err, &oe) || oe.Code != "" || time.Until(oe.Until) < 50*time.Second {
		t.Errorf("B's reCAPTCHA after A's NO_SLOT run = %v, want the fleet's reCAPTCHA opening for a minute", err)
	}
	for i, tr := range ts {
		for _, m := range []string{"post", "base64"} {
			if err := sendMethod(ctx, tr, m); err != nil {
				t.Errorf("Transport %d: %s while reCAPTCHA is open = %v, want accepted", i, m, err)
			}
		}
	}
	if ps[0].saw("userrecaptcha") != 3 || ps[1].saw("userrecaptcha") != 0 || ps[1].saw("post") != 1 {
		t.Errorf("providers saw %v and %v, want A 3 reCAPTCHA, B none, and the image captchas", ps[0].seen, ps[1].seen)
	}
	ps[1].set(false, true)
	sendMethod(ctx, b, "post")
	for i, tr := range ts {
		for _, m := range []string{"post", "userrecaptcha", "hcaptcha"} {
			err := sendMethod(ctx, tr, m)
			if i == 0 && m == "userrecaptcha" && errors.Is(err, slotguard.ErrCircuitOpen) {
				continue // A's own reCAPTCHA run refuses first
			}
			if !errors.As(err, &oe) || oe.Code != "ERROR: 1001" {
				t.Errorf("Transport %d: %s after B's ban = %v, want the ban's opening", i, m, err)
			}
		}
	}
	if ps[0].saw("post") != 1 || ps[0].saw("hcaptcha") != 0 || ps[1].saw("post") != 2 {
		t.Errorf("providers saw %v and %v, want nothing after the ban", ps[0].seen, ps[1].seen)
	}
}

// breakerKeys counts the breaker's keys of f's API key in Redis, and the
// types set's members.
func breakerKeys(t *testing.T, f *Fleet) (keys []string, types int64) {
	t.Helper()
	ctx := ctxFor(t, 5*time.Second)
	base := f.Breaker.base
	for _, pat := range []string{"open*", "tripped*", "probe*"} {
		ks, err := f.link.c.Keys(ctx, strings.NewReplacer("{", `\{`, "}", `\}`).Replace(base)+pat).Result()
		must(t, "KEYS", err)
		keys = append(keys, ks...)
	}
	types, err := f.link.c.ZCard(ctx, base+"types").Result()
	must(t, "ZCARD", err)
	return keys, types
}

func TestBreakerTypesBoundedInRedis(t *testing.T) {
	// 100 method names opening their types: at most 32 types kept apart,
	// 3 keys each, the others in the untyped breaker's 3 keys.
	t.Run("Open", func(t *testing.T) {
		fs := fleetOf(t, redistest.Addr(t), testKey(t), 2, Config{})
		ctx := ctxFor(t, 10*time.Second)
		for i := range 100 {
			must(t, "Open", fs[0].Breaker.Open(ctx, "random"+strconv.Itoa(i), time.Now().Add(time.Minute), ""))
		}
		keys, types := breakerKeys(t, fs[0])
		// open and tripped of 32 types and the untyped; no probe is out.
		if types != maxTypes || len(keys) != 2*(maxTypes+1) {
			t.Errorf("%d types, %d keys after 100 openings, want %d and %d:\n%v", types, len(keys), maxTypes, 2*(maxTypes+1), keys)
		}
		// The first 32 have their own; the 33rd on share the untyped, and
		// so does every new type while 32 are kept: image too.
		for _, typ := range []string{"random0", "random31", "random32", "random99", "", "image"} {
			if _, err := fs[1].Breaker.Allow(ctx, typ); !errors.Is(err, slotguard.ErrCircuitOpen) {
				t.Errorf("Allow(%q) = %v, want open", typ, err)
			}
		}
		// Closing random0 frees its place: image has none yet, and goes
		// (at a process that has no copy of the untyped opening for it).
		must(t, "Close", fs[1].Breaker.Close(ctx, "random0"))
		if probe, err := fs[0].Breaker.Allow(ctx, "image"); probe || err != nil {
			t.Errorf("Allow(image) after a type closed = %v, %v, want allowed", probe, err)
		}
		if _, err := fs[1].Breaker.Allow(ctx, "random31"); !errors.Is(err, slotguard.ErrCircuitOpen) {
			t.Errorf("Allow(random31) after random0 closed = %v, want still open", err)
		}
	})
	t.Run("Transports", func(t *testing.T) {
		fs, ts, ps := typedFleet(t, redistest.Addr(t))
		ctx := ctxFor(t, 20*time.Second)
		for i := range 100 {
			for range 3 {
				sendMethod(ctx, ts[i%2], "random"+strconv.Itoa(i))
			}
		}
		keys, types := breakerKeys(t, fs[0])
		t.Logf("after 100 method names: %d types, %d breaker keys; the providers saw %d and %d submits",
			types, len(keys), len(ps[0].seen), len(ps[1].seen))
		if types > maxTypes || len(keys) > 3*(maxTypes+1) {
			t.Errorf("%d types, %d keys, want at most %d and %d", types, len(keys), maxTypes, 3*(maxTypes+1))
		}
	})
}

func TestTypedOpeningSurvivesFlush(t *testing.T) {
	// A's reCAPTCHA opening; Redis loses everything (FLUSHALL). A's next
	// refused reCAPTCHA submit writes it back for reCAPTCHA only: B, which
	// never saw it, refuses reCAPTCHA and sends image captchas.
	s := redistest.Start(t)
	fs, ts, ps := typedFleet(t, s.Addr)
	a, b := ts[0], ts[1]
	ctx := ctxFor(t, 10*time.Second)
	for range 3 {
		sendMethod(ctx, a, "userrecaptcha")
	}
	must(t, "FLUSHALL", fs[0].link.c.FlushAll(ctx).Err())
	time.Sleep(1100 * time.Millisecond) // the Transport writes back once a second
	if err := sendMethod(ctx, a, "userrecaptcha"); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Fatalf("A's reCAPTCHA = %v, want its own opening", err)
	}
	var oe *slotguard.OpenError
	if err := sendMethod(ctx, b, "userrecaptcha"); !errors.As(err, &oe) || oe.Code != "" || time.Until(oe.Until) < 50*time.Second {
		t.Errorf("B's reCAPTCHA after the flush = %v, want A's opening written back", err)
	}
	if err := sendMethod(ctx, b, "post"); err != nil {
		t.Errorf("B's post after the flush = %v, want accepted: the opening is reCAPTCHA's", err)
	}
	if ps[1].saw("userrecaptcha") != 0 {
		t.Errorf("B's provider saw %v, want no reCAPTCHA", ps[1].seen)
	}
}

// allowType calls Allow(typ) on every fleet at once and returns the
// probers and the number refused.
func allowType(t *testing.T, fs []*Fleet, typ string) (probers []*Breaker, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			probe, err := f.Breaker.Allow(context.Background(), typ)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, slotguard.ErrCircuitOpen):
				refused++
			case err != nil:
				t.Errorf("Allow(%q) = %v", typ, err)
			case probe:
				probers = append(probers, f.Breaker)
			}
		})
	}
	wg.Wait()
	return probers, refused
}

func TestBreakerOneProbePerType(t *testing.T) {
	// Two types open: after their open periods, one probe of each for the
	// whole fleet; the reCAPTCHA probe's Close closes reCAPTCHA only.
	fs := fleetOf(t, redistest.Addr(t), testKey(t), 10, Config{ProbeTimeout: time.Minute})
	ctx := ctxFor(t, 10*time.Second)
	for _, typ := range []string{slotguard.TypeRecaptcha, slotguard.TypeImage} {
		must(t, "Open", fs[0].Breaker.Open(ctx, typ, time.Now().Add(20*time.Millisecond), ""))
	}
	time.Sleep(40 * time.Millisecond)
	rp, rr := allowType(t, fs, slotguard.TypeRecaptcha)
	ip, ir := allowType(t, fs, slotguard.TypeImage)
	if len(rp) != 1 || rr != 9 || len(ip) != 1 || ir != 9 {
		t.Fatalf("probes: reCAPTCHA %d (%d refused), image %d (%d refused); want one each, 9 refused", len(rp), rr, len(ip), ir)
	}
	must(t, "Close", rp[0].Close(ctx, slotguard.TypeRecaptcha))
	if p, r := allowType(t, fs, slotguard.TypeRecaptcha); len(p) != 0 || r != 0 {
		t.Errorf("reCAPTCHA after its probe's Close: %d probes, %d refused, want neither", len(p), r)
	}
	if p, r := allowType(t, fs, slotguard.TypeImage); len(p) != 0 || r != 10 {
		t.Errorf("image with its probe out: %d probes, %d refused, want 10 refused", len(p), r)
	}
	must(t, "Release", ip[0].Release(ctx, slotguard.TypeImage))
	if p, r := allowType(t, fs, slotguard.TypeImage); len(p) != 1 || r != 9 {
		t.Errorf("image after its probe's Release: %d probes, %d refused, want the next probe", len(p), r)
	}
}

func TestRestartKeepsTypedOpening(t *testing.T) {
	// A process that saw a reCAPTCHA opening (Allow) writes it back after
	// Redis lost it, for reCAPTCHA only.
	s := redistest.Start(t)
	fs := fleetOf(t, s.Addr, testKey(t), 3, Config{})
	seer, fresh := fs[1].Breaker, fs[2].Breaker
	seer.recheck = 0 // ask Redis at each refusal, not once a second
	ctx := ctxFor(t, 10*time.Second)
	until := time.Now().Add(time.Minute)
	must(t, "Open", fs[0].Breaker.Open(ctx, slotguard.TypeRecaptcha, until, ""))
	if _, err := seer.Allow(ctx, slotguard.TypeRecaptcha); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Fatalf("Allow = %v, want the opening", err)
	}
	must(t, "FLUSHALL", fs[0].link.c.FlushAll(ctx).Err())
	if _, err := seer.Allow(ctx, slotguard.TypeRecaptcha); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Fatalf("Allow after the flush = %v, want its copy", err)
	}
	var oe *slotguard.OpenError
	if _, err := fresh.Allow(ctx, slotguard.TypeRecaptcha); !errors.As(err, &oe) || oe.Code != "" || oe.Until.Sub(until).Abs() > 100*time.Millisecond {
		t.Errorf("a process that never saw it: Allow(recaptcha) after the flush = %v, want the opening until %v", err, until.Format(time.StampMilli))
	}
	if probe, err := fresh.Allow(ctx, slotguard.TypeImage); probe || err != nil {
		t.Errorf("Allow(image) after the flush = %v, %v, want allowed", probe, err)
	}
}

func TestBanProbeNoSlotFreesOtherTypes(t *testing.T) {
	// A ban ends; A's reCAPTCHA submit is the fleet's probe of the key's
	// breaker and finds reCAPTCHA short (NO_SLOT, not a ban). That opens
	// reCAPTCHA's breaker; it must not leave the key's probe out, which
	// would refuse B's image captchas until ProbeTimeout.
	fs, ts, ps := typedFleet(t, redistest.Addr(t))
	a, b := ts[0], ts[1]
	ctx := ctxFor(t, 10*time.Second)
	must(t, "Open", fs[0].Breaker.Open(ctx, "", time.Now().Add(50*time.Millisecond), "ERROR: 1001"))
	time.Sleep(100 * time.Millisecond)
	if err := sendMethod(ctx, a, "userrecaptcha"); err != nil {
		t.Fatalf("A's reCAPTCHA probe = %v, want the provider's NO_SLOT", err)
	}
	if err := sendMethod(ctx, b, "post"); err != nil {
		t.Errorf("B's post after the ban's probe found reCAPTCHA short = %v, want accepted", err)
	}
	var oe *slotguard.OpenError
	if err := sendMethod(ctx, b, "userrecaptcha"); !errors.As(err, &oe) || oe.Code != "" {
		t.Errorf("B's reCAPTCHA = %v, want reCAPTCHA's opening", err)
	}
	if ps[0].saw("userrecaptcha") != 1 || ps[1].saw("post") != 1 || ps[1].saw("userrecaptcha") != 0 {
		t.Errorf("providers saw %v and %v, want A's reCAPTCHA probe and B's post", ps[0].seen, ps[1].seen)
	}
}

// TestTypedOpeningPastLocalBound: a process that has seen 32 other types
// keeps reCAPTCHA in its local untyped run, yet the fleet's reCAPTCHA
// opening (B's) holds for it too: the process asks the store by the task's
// own type, and the store decides where that type stands.
func TestTypedOpeningPastLocalBound(t *testing.T) {
	_, ts, ps := typedFleet(t, redistest.Addr(t))
	a, b := ts[0], ts[1]
	ctx := ctxFor(t, 10*time.Second)
	for i := range 32 {
		if err := sendMethod(ctx, a, "other"+strconv.Itoa(i)); err != nil {
			t.Fatalf("other%d: %v", i, err)
		}
	}
	for range 3 {
		sendMethod(ctx, b, "userrecaptcha")
	}
	if err := sendMethod(ctx, a, "userrecaptcha"); !errors.Is(err, slotguard.ErrCircuitOpen) {
		t.Errorf("A's reCAPTCHA (its 33rd type) during the fleet's reCAPTCHA opening = %v, want ErrCircuitOpen", err)
	}
	if n := ps[0].saw("userrecaptcha"); n != 0 {
		t.Errorf("A's provider saw %d reCAPTCHA submits during the fleet's opening, want 0", n)
	}
	if err := sendMethod(ctx, a, "post"); err != nil {
		t.Errorf("A's post during reCAPTCHA's opening = %v, want accepted", err)
	}
}
