package captchaaitest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// steadyConfig is the provider a steady client talks to: one account with 5
// slots and funds for far more tasks than a run accepts, one with less than
// a task's price.
// Tasks solve in 1-9 s, within the 10 s of a round.
func steadyConfig(off bool) Config {
	return Config{
		Accounts: []Account{
			{Key: DefaultKey, Slots: 5, Balance: 1e6},
			{Key: poorKey, Balance: 0.0005}, // every submit: ERROR_ZERO_BALANCE
		},
		Methods:       map[string]Method{"userrecaptcha": {MinSolve: time.Second, MaxSolve: 9 * time.Second, Price: 0.001}},
		No1001:        off,
		No1002:        off,
		No1003:        off,
		NoMaxUserTurn: off,
		No1005:        off,
	}
}

var poorKey = strings.Repeat("p", 32)

// steady is a client that keeps a provider busy with the same mix of
// requests round after round: a poll of each task accepted in the round
// before, 8 submits of which about 5 are accepted and 3 find no slot, and a
// submit without funds. About 14 requests a round.
type steady struct {
	rt    http.RoundTripper
	round []string // the URLs of the round in progress
	pos   int      // the next one to send
	ids   []string // accepted in this round, to poll in the next
	sent  int
}

var (
	steadySubmit = base + "/in.php?" + recaptcha().Encode()
	steadyPoor   = base + "/in.php?" + recaptcha("key", poorKey).Encode()
	steadyPoll   = base + "/res.php?" + url.Values{"key": {DefaultKey}, "action": {"get"}}.Encode() + "&id="
)

// next sends the next request and reports whether it ended a round.
func (s *steady) next(tb testing.TB) bool {
	if s.pos == len(s.round) {
		s.round, s.pos = s.round[:0], 0
		for _, id := range s.ids {
			s.round = append(s.round, steadyPoll+id)
		}
		s.ids = s.ids[:0]
		for range 8 {
			s.round = append(s.round, steadySubmit)
		}
		s.round = append(s.round, steadyPoor)
	}
	u := s.round[s.pos]
	s.pos++
	if id, ok := strings.CutPrefix(s.get(tb, u), "OK|"); ok && u == steadySubmit {
		s.ids = append(s.ids, id)
	}
	return s.pos == len(s.round)
}

// get sends a GET to u and returns the answer's body.
func (s *steady) get(tb testing.TB, u string) string {
	tb.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		tb.Fatalf("RoundTrip(GET %s) error: %v", req.URL.Path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatalf("reading %s answer: %v", req.URL.Path, err)
	}
	s.sent++
	return string(b)
}

// held returns what the provider keeps that could grow with the requests
// and tasks it has seen: the tasks it remembers, and the capacity of every
// account's task list and rolling windows. Stats.NoSlotPerMinute is left
// out: it grows by one int per provider minute, not per request.
func held(p *Provider) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[string]int{"tasks": len(p.tasks)}
	for key, a := range p.accounts {
		key = map[string]string{DefaultKey: "funded", poorKey: "poor"}[key]
		n[key+" active"] = cap(a.active)
		for name, w := range map[string]*window{
			"NO_SLOT": &a.pen.noSlot, "ZERO_BALANCE": &a.pen.zeroBal,
			"accepted/min": &a.pen.acceptedMin, "MAX_USER_TURN": &a.pen.turn,
			"polls": &a.pen.polls, "accepted/hour": &a.pen.acceptedHour,
		} {
			n[key+" "+name] = cap(w.at)
		}
	}
	return n
}

// TestMemoryFlat drives a steady client for ten hours of provider time and
// checks that what the provider holds after 50,000 requests is no more than
// twice what it held after the first 10,000, which already span two
// provider hours: longer than the longest window (the rolling hour of
// ERROR: 1005) plus the time a solved task is remembered. Before issue 11, the task map
// and some windows grew by an entry per task or request, and held four to
// five times as many entries here. BenchmarkLongRun runs the same client for
// a million requests, which would take 6 s a case here (20 s under -race).
func TestMemoryFlat(t *testing.T) {
	const warm, total = 10_000, 50_000
	tests := []struct {
		name string
		off  bool
	}{
		{"penalties on", false},
		{"penalties off", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(steadyConfig(tt.off))
				defer p.Close()
				c := &steady{rt: p.Transport()}
				run := func(n int) {
					for c.sent < n {
						for !c.next(t) {
						}
						time.Sleep(10 * time.Second)
					}
				}
				run(warm)
				before := held(p)
				run(total)
				after := held(p)
				st := p.Stats(DefaultKey)
				t.Logf("%d requests, %v of provider time, %d tasks accepted; held after %d: %v; after %d: %v",
					c.sent, st.Elapsed, st.Accepted, warm, before, c.sent, after)
				if st.Accepted < c.sent/4 {
					t.Fatalf("Stats.Accepted = %d after %d requests, want >= %d: the load is not the steady mix it should be",
						st.Accepted, c.sent, c.sent/4)
				}
				for k, n := range after {
					if limit := max(2*before[k], 64); n > limit {
						t.Errorf("held(%s) after %d requests = %d, want <= %d (twice the %d held after %d)",
							k, c.sent, n, limit, before[k], warm)
					}
				}
			})
		})
	}
}

// TestPoolMemoryFlat checks that a pool holds no more tasks than its most
// workers over a long run: its list drops the solved ones.
func TestPoolMemoryFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 100, Balance: 1e6}},
			Methods:  map[string]Method{"userrecaptcha": {MinSolve: time.Second, MaxSolve: 9 * time.Second, Price: 0.001}},
			Pools:    map[string]Pool{"recaptcha": {Workers: 3, Capacity: []Step{{time.Hour, 1}}}},
		})
		defer p.Close()
		accepted := 0
		for range 2000 {
			if strings.HasPrefix(submitAs(t, p, DefaultKey, "userrecaptcha"), "OK|") {
				accepted++
			}
			time.Sleep(2 * time.Second)
			p.mu.Lock()
			n, c := len(p.pools["recaptcha"].active), cap(p.pools["recaptcha"].active)
			p.mu.Unlock()
			if n > 3 || c > 8 {
				t.Fatalf("pool holds %d tasks (cap %d), want at most 3", n, c)
			}
		}
		if accepted < 1000 {
			t.Errorf("accepted %d of 2000 submits, want 1000 or more", accepted)
		}
	})
}
