package redisguard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests run against a real redis-server, found or started by
// redistest.Addr and redistest.Start.

// newClient is a client as the README asks: context deadlines honoured.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// testKey is an API key of the test's own, so that tests sharing a Redis
// never meet.
func testKey(t testing.TB) string {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fleetOf returns n fleets for one key, each with its own client (n
// processes as far as Redis can tell), connected and with the scripts
// loaded, in an epoch begun long ago (see settle). Unless the test sets
// one, the timeout is a generous 1 s: these tests are about what is
// shared, not about a loaded machine's latency (the outage tests set
// their own).
func fleetOf(t testing.TB, addr, key string, n int, cfg Config) []*Fleet {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	fs := make([]*Fleet, n)
	for i := range fs {
		f, err := New(newClient(t, addr), key, cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = f.Load(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		fs[i] = f
	}
	settle(t, fs[0])
	return fs
}

// settle puts f's key in an epoch begun long ago, as a fleet that has run
// for a while finds it: a new key's first epoch begins at its first call,
// and the budget's lines would ramp up over their windows from there.
func settle(t testing.TB, f *Fleet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, "settle", f.link.c.Set(ctx, f.Budget.keys[3], "0", epochTTL).Err())
}

// reconnect waits until each of fs answers again after Redis came back,
// ending their back-offs (Load tries even during one).
func reconnect(t testing.TB, fs ...*Fleet) {
	t.Helper()
	for _, f := range fs {
		var err error
		for range 40 {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = f.Load(ctx)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		must(t, "reconnect", err)
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
