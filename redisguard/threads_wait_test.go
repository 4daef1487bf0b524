package redisguard

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/redisguard/redistest"
)

// How Threads.Acquire waits: cancelled, in order within a process, with
// one Redis call per Poll for all of a process's waiters, and not past
// Redis's death.

func TestThreadsAcquireCancelled(t *testing.T) {
	// A wait that ends with its context returns the context's error and
	// takes no permit.
	addr := redistest.Addr(t)
	ths := threadsOf(t, addr, 2, Config{})
	_, err := ths[0].Acquire(context.Background(), "", 0, 0, long)
	must(t, "Acquire", err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := ths[1].Acquire(ctx, "", 0, 0, long); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Acquire = %v, want context.Canceled", err)
	}
	if _, err := ths[1].Acquire(ctx, "", 0, 5, long); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with an ended context = %v, want context.Canceled", err)
	}
	if u := usage(t, ths[0]); u.Submits != 1 {
		t.Errorf("Usage().Submits = %d, want 1: a cancelled Acquire takes nothing", u.Submits)
	}
}

func TestThreadsWaitersInProcessInOrder(t *testing.T) {
	// A process's waiters get permits in arrival order, and a permit it
	// gives back wakes its first waiter at once (Poll 2 s).
	addr := redistest.Addr(t)
	th := threadsOf(t, addr, 1, Config{Poll: 2 * time.Second})[0]
	ctx := ctxFor(t, 5*time.Second)
	token, err := th.Acquire(ctx, "", 0, 0, long)
	must(t, "Acquire", err)
	const n = 3
	got := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			token, err := th.Acquire(ctx, "", 0, 0, long)
			if err != nil {
				t.Errorf("waiter %d: Acquire = %v", i, err)
				return
			}
			got <- i
			time.Sleep(20 * time.Millisecond)
			if err := th.Release(ctx, token, 0); err != nil {
				t.Errorf("waiter %d: Release = %v", i, err)
			}
		})
		time.Sleep(20 * time.Millisecond) // in order
	}
	start := time.Now()
	must(t, "Release", th.Release(ctx, token, 0))
	wg.Wait()
	close(got)
	want := 0
	for i := range got {
		if i != want {
			t.Errorf("waiter %d got the permit %d-th, want in arrival order", i, want)
		}
		want++
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("3 waiters took %v, want each woken by the Release before it, not by a poll", d)
	}
}

func TestThreadsWaiterWhenRedisDies(t *testing.T) {
	// A submit waiting for a permit when Redis dies gets an *Error within
	// a poll and the timeout, not a wait until its context ends.
	s := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	th := threadsOf(t, s.Addr, 1, Config{Timeout: timeout})[0]
	_, err := th.Acquire(context.Background(), "", 0, 0, long)
	must(t, "Acquire", err)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		time.Sleep(100 * time.Millisecond)
		s.Stop()
	})
	start := time.Now()
	_, err = th.Acquire(ctxFor(t, 5*time.Second), "", 0, 0, long)
	var re *Error
	if !errors.As(err, &re) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire as Redis dies = %v, want an *Error", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond+defaultPoll+timeout+100*time.Millisecond {
		t.Errorf("Acquire as Redis dies took %v, want a poll and a timeout after its death", d)
	}
}

func TestThreadsWaitersAskOneAtATime(t *testing.T) {
	// 10 waiters of one process ask Redis about once per Poll between
	// them, not once each: the process's first waiter asks for all.
	s := redistest.Start(t) // a server of its own: the test counts its calls
	const n, poll, run = 10, 50 * time.Millisecond, 500 * time.Millisecond
	f := fleetOf(t, s.Addr, testKey(t), 1, Config{Poll: poll})[0]
	ctx := context.Background()
	_, err := f.Threads.Acquire(ctx, "", 0, 0, long)
	must(t, "Acquire", err)
	must(t, "CONFIG RESETSTAT", f.link.c.ConfigResetStat(ctx).Err())
	wait, cancel := context.WithTimeout(ctx, run)
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := f.Threads.Acquire(wait, "", 0, 0, long); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Acquire = %v, want context.DeadlineExceeded", err)
			}
		})
	}
	wg.Wait()
	stats, err := f.link.c.Info(ctx, "commandstats").Result()
	must(t, "INFO", err)
	calls := 0
	for line := range strings.Lines(stats) {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:calls="); ok {
			calls, _ = strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		}
	}
	if want := int(run/poll) + 2; calls > want {
		t.Errorf("%d waiters made %d calls in %v, want %d at most (one per Poll)", n, calls, run, want)
	}
}
