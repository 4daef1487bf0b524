package redisguard

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// The extra cost per submit attempt of the shared parts over loopback
// Redis, beside the local rate.Limiter they stand in for. The rate is high
// enough that nothing waits: this is the price of asking, not of pacing.
func BenchmarkWait(b *testing.B) {
	ctx := context.Background()
	const r = 1e9
	b.Run("local", func(b *testing.B) {
		lim := rate.NewLimiter(r, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := lim.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redis", func(b *testing.B) {
		p := fleetOf(b, redistest.Addr(b), testKey(b), 1, Config{Rate: r})[0].Pacer
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("local-parallel", func(b *testing.B) {
		lim := rate.NewLimiter(r, 1)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				lim.Wait(ctx)
			}
		})
	})
	b.Run("redis-parallel", func(b *testing.B) {
		p := fleetOf(b, redistest.Addr(b), testKey(b), 1, Config{Rate: r})[0].Pacer
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Wait(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkAttempt is everything redisguard adds to one attempt: Allow,
// Admit, Wait and Done, four round trips (Allow none while open).
func BenchmarkAttempt(b *testing.B) {
	ctx := context.Background()
	f := fleetOf(b, redistest.Addr(b), testKey(b), 1, Config{
		Rate:   1e9,
		Budget: slotguard.BudgetConfig{NoSlotPerMinute: slotguard.Unlimited, SubmitsPer3s: slotguard.Unlimited},
	})[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Breaker.Allow(ctx, ""); err != nil {
			b.Fatal(err)
		}
		if err := f.Budget.Admit(ctx); err != nil {
			b.Fatal(err)
		}
		if err := f.Pacer.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		f.Budget.Done(ctx, slotguard.OutcomeAccepted)
	}
}

// BenchmarkThreads is what a task's thread permit costs: Acquire,
// Accepted and Done, three round trips, beside the process-local
// semaphore the permits stand in for. There is always room: this is the
// price of asking, not of waiting.
func BenchmarkThreads(b *testing.B) {
	ctx := context.Background()
	b.Run("local", func(b *testing.B) {
		sem := semaphore.NewWeighted(1)
		b.ReportAllocs()
		for b.Loop() {
			if err := sem.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
			sem.Release(1)
		}
	})
	b.Run("redis", func(b *testing.B) {
		th := fleetOf(b, redistest.Addr(b), testKey(b), 1, Config{})[0].Threads
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			token, err := th.Acquire(ctx, "", 0, 1, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			i++
			id := strconv.Itoa(i)
			if err := th.Accepted(ctx, token, id, time.Minute, 0, time.Minute); err != nil {
				b.Fatal(err)
			}
			if ok, err := th.Done(ctx, id); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkSubmitRedisDown is the cost of a submit through a Transport
// whose Fleet's Redis is killed (Config's defaults: Timeout 50 ms, Backoff
// 1 s), beside the same Transport without a Fleet. One call per Backoff pays
// the Timeout; the others skip Redis.
func BenchmarkSubmitRedisDown(b *testing.B) {
	ctx := context.Background()
	for _, bb := range []struct {
		name string
		tr   func(b *testing.B) *slotguard.Transport
	}{
		{"local", func(b *testing.B) *slotguard.Transport { return fastTransport(b, slotguard.Shared{}, nil) }},
		{"redis-down", func(b *testing.B) *slotguard.Transport { return downTransport(b, Config{}) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			tr := bb.tr(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := submit(ctx, tr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
