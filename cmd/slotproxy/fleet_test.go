package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/redisguard/redistest"
)

// timedUpstream answers OK|1 and notes when each request came.
type timedUpstream struct {
	mu    sync.Mutex
	times []time.Time
}

func (u *timedUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.mu.Lock()
	u.times = append(u.times, time.Now())
	u.mu.Unlock()
	resp := answer("OK|1")(req)
	resp.Request = req
	return resp, nil
}

// Two slotproxies with -redis and the same -redis-key draw from one pace:
// together they send no faster than -rate (issue 15).
func TestRedisSharesThePace(t *testing.T) {
	srv := redistest.Start(t)
	up := &timedUpstream{}
	const perProxy = 5
	var wg sync.WaitGroup
	for range 2 {
		h := memProxy(t, up, nil, "-redis", srv.Addr, "-redis-key", key, "-rate", "10", "-max-wait", "0")
		for range perProxy {
			wg.Go(func() {
				if rec := formats(2)[0].send(h); rec.Code != http.StatusOK || rec.Body.String() != "OK|1" {
					t.Errorf("submit = %d %q, want OK|1", rec.Code, rec.Body)
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(up.times, func(a, b time.Time) int { return a.Compare(b) })
	// 10 attempts at 10/s for the pair: 0.9 s from the first to the last;
	// each proxy alone would send its 5 within 0.4 s.
	if n := len(up.times); n != 2*perProxy {
		t.Fatalf("upstream saw %d submits, want %d", n, 2*perProxy)
	}
	if span := up.times[len(up.times)-1].Sub(up.times[0]); span < 800*time.Millisecond {
		t.Errorf("10 submits through two proxies at -rate 10 took %v, want at least 0.8s (one shared pace)", span)
	}
}

// With -redis, a request with another key than -redis-key is refused: the
// fleet's lines are that key's bans.
func TestRedisServesOneKey(t *testing.T) {
	srv := redistest.Start(t)
	up := &memUpstream{answer: answer("OK|1")}
	h := memProxy(t, up, nil, "-redis", srv.Addr, "-redis-key", key)
	for _, f := range formats(2) {
		if rec := f.send(h); rec.Code != http.StatusOK {
			t.Errorf("%s with -redis-key = %d %q, want 200", f.name, rec.Code, rec.Body)
		}
		other := f
		other.body = strings.ReplaceAll(f.body, key, "otherkey0123456789")
		if rec := other.send(h); rec.Code != http.StatusForbidden || rec.Header().Get("X-Slotproxy-Error") != "wrong-key" {
			t.Errorf("%s with another key = %d %q, want 403 wrong-key", f.name, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/res.php?action=get&id=1&key="+key, nil))
	if rec.Code != http.StatusOK {
		t.Errorf("poll with -redis-key = %d %q, want 200", rec.Code, rec.Body)
	}
	if n, want := up.n.Load(), int64(len(formats(2))+1); n != want {
		t.Errorf("upstream saw %d requests, want %d", n, want)
	}
}
