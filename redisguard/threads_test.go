package redisguard

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

var _ slotguard.SharedThreads = (*Threads)(nil)

// threadsOf returns the Threads of n processes of one fleet (see fleetOf).
func threadsOf(t *testing.T, addr string, n int, cfg Config) []*Threads {
	t.Helper()
	var ths []*Threads
	for _, f := range fleetOf(t, addr, testKey(t), n, cfg) {
		ths = append(ths, f.Threads)
	}
	return ths
}

// Times the tests pass to the calls, when they do not test them.
const (
	long  = time.Minute // a ttl or ceiling that does not pass in a test
	quiet = time.Minute // NO_SLOT answers count as recent
)

func usage(t *testing.T, th *Threads) ThreadUsage {
	t.Helper()
	u, err := th.Usage(context.Background())
	must(t, "Usage", err)
	return u
}

// acquireWithin checks that th.Acquire takes a permit between lo and hi
// from now.
func acquireWithin(t *testing.T, th *Threads, overbook int, lo, hi time.Duration) string {
	t.Helper()
	start := time.Now()
	token, err := th.Acquire(ctxFor(t, 5*time.Second), "", 0, overbook, long)
	must(t, "Acquire", err)
	if d := time.Since(start); d < lo || d > hi {
		t.Errorf("Acquire took %v, want %v to %v", d, lo, hi)
	}
	return token
}

func TestThreadsAdmitCapacityPlusOverbook(t *testing.T) {
	// 3 processes, 4 submits each, at once on a new fleet (capacity 1):
	// exactly capacity + overbook take a permit, the others wait until
	// their context ends; a permit given back lets one more in.
	tests := []struct {
		overbook int
		want     int
	}{
		{0, 1},
		{2, 3},
		{5, 6},
	}
	addr := redistest.Addr(t)
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.overbook), func(t *testing.T) {
			ths := threadsOf(t, addr, 3, Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			var mu sync.Mutex
			var tokens []string
			var waited atomic.Int64
			var wg sync.WaitGroup
			for _, th := range ths {
				for range 4 {
					wg.Go(func() {
						token, err := th.Acquire(ctx, "", 0, tt.overbook, long)
						switch {
						case err == nil:
							mu.Lock()
							tokens = append(tokens, token)
							mu.Unlock()
						case errors.Is(err, context.DeadlineExceeded):
							waited.Add(1)
						default:
							t.Errorf("Acquire = %v, want nil or context.DeadlineExceeded", err)
						}
					})
				}
			}
			wg.Wait()
			if len(tokens) != tt.want || int(waited.Load()) != 12-tt.want {
				t.Fatalf("took %d permits and waited %d, want %d and %d", len(tokens), waited.Load(), tt.want, 12-tt.want)
			}
			if u := usage(t, ths[0]); u != (ThreadUsage{Submits: tt.want, Capacity: 1}) {
				t.Errorf("Usage() = %+v, want %d submits, capacity 1", u, tt.want)
			}
			must(t, "Release", ths[0].Release(context.Background(), tokens[0], 0))
			acquireWithin(t, ths[2], tt.overbook, 0, 50*time.Millisecond)
		})
	}
}

func TestThreadsDoneByAnotherProcess(t *testing.T) {
	// Process 0's task holds the fleet's one permit; process 1 waits for
	// it; process 2 sees the task end, and process 1 goes on its next ask.
	addr := redistest.Addr(t)
	ths := threadsOf(t, addr, 3, Config{Poll: 50 * time.Millisecond})
	ctx := context.Background()
	token, err := ths[0].Acquire(ctx, "", 0, 0, long)
	must(t, "Acquire", err)
	must(t, "Accepted", ths[0].Accepted(ctx, token, "task1", long, 0, quiet))
	time.AfterFunc(200*time.Millisecond, func() {
		if ok, err := ths[2].Done(ctx, "task1"); !ok || err != nil {
			t.Errorf("Done(task1) in another process = %v, %v, want true, nil", ok, err)
		}
	})
	acquireWithin(t, ths[1], 0, 190*time.Millisecond, 350*time.Millisecond)
	// Once only: a second Done frees nothing.
	if ok, err := ths[0].Done(ctx, "task1"); ok || err != nil {
		t.Errorf("Done(task1) again = %v, %v, want false, nil", ok, err)
	}
	if u := usage(t, ths[0]); u != (ThreadUsage{Submits: 1, Capacity: 1}) {
		t.Errorf("Usage() = %+v, want process 1's submit alone", u)
	}
}

func TestThreadsExpire(t *testing.T) {
	// A task never seen to end holds its permit until its ceiling; a
	// submit whose process died holds it until its ttl; a submit that may
	// have been accepted until the ceiling given to Release. The waiter
	// wakes at the expiry, not at its next poll (Poll 2 s).
	tests := []struct {
		name string
		hold func(th *Threads, d time.Duration) error
	}{
		{"task past its ceiling", func(th *Threads, d time.Duration) error {
			token, err := th.Acquire(context.Background(), "", 0, 0, long)
			if err != nil {
				return err
			}
			return th.Accepted(context.Background(), token, "task1", d, 0, quiet)
		}},
		{"submit past its ttl", func(th *Threads, d time.Duration) error {
			_, err := th.Acquire(context.Background(), "", 0, 0, d)
			return err
		}},
		{"maybe accepted past its ceiling", func(th *Threads, d time.Duration) error {
			token, err := th.Acquire(context.Background(), "", 0, 0, long)
			if err != nil {
				return err
			}
			return th.Release(context.Background(), token, d)
		}},
	}
	addr := redistest.Addr(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ths := threadsOf(t, addr, 2, Config{Poll: 2 * time.Second})
			must(t, "hold", tt.hold(ths[0], 200*time.Millisecond))
			acquireWithin(t, ths[1], 0, 190*time.Millisecond, 400*time.Millisecond)
		})
	}
}

func TestThreadsRelease(t *testing.T) {
	addr := redistest.Addr(t)
	th := threadsOf(t, addr, 1, Config{})[0]
	ctx := context.Background()
	token, err := th.Acquire(ctx, "", 0, 5, long)
	must(t, "Acquire", err)
	must(t, "Release", th.Release(ctx, token, 0))
	if u := usage(t, th); u != (ThreadUsage{Capacity: 1}) {
		t.Errorf("Usage() after Release(token, 0) = %+v, want nothing held", u)
	}
	token, err = th.Acquire(ctx, "", 0, 5, long)
	must(t, "Acquire", err)
	must(t, "Release", th.Release(ctx, token, long))
	if u := usage(t, th); u != (ThreadUsage{Tasks: 1, Capacity: 1}) {
		t.Errorf("Usage() after Release(token, ceiling) = %+v, want one anonymous lease", u)
	}
}

func TestThreadsLearnCapacity(t *testing.T) {
	// Each step runs in the next of 3 processes: the fleet learns as one.
	// a: a submit accepted (a new task); m: one that may have been
	// (an anonymous lease); n: a NO_SLOT answer; d: the oldest task seen
	// to end.
	type step struct {
		op       byte
		capacity int
		probe    bool // for n
	}
	tests := []struct {
		name  string
		plan  int
		quiet time.Duration
		steps []step
	}{
		{"up by one above it", 0, quiet, []step{{'a', 1, false}, {'a', 2, false}, {'a', 3, false}, {'a', 4, false}}},
		{"from the plan, never above", 2, quiet, []step{{'a', 2, false}, {'a', 2, false}, {'a', 2, false}}},
		{"slowly after a NO_SLOT", 0, quiet, []step{
			{'a', 1, false}, {'a', 2, false}, {'n', 2, true},
			{'a', 2, false}, {'a', 3, false}, // half a step each
			{'a', 3, false}, {'a', 3, false}, {'a', 4, false}, // a third
		}},
		{"at once when the NO_SLOT is old", 0, time.Microsecond, []step{
			{'a', 1, false}, {'a', 2, false}, {'n', 2, true}, {'a', 3, false},
		}},
		{"down to the tasks at a NO_SLOT below it", 0, quiet, []step{
			{'a', 1, false}, {'a', 2, false}, {'a', 3, false}, {'a', 4, false},
			{'d', 4, false}, {'d', 4, false}, {'n', 2, false}, {'n', 2, true},
			{'d', 2, false}, {'d', 2, false}, {'n', 1, false},
		}},
		{"the plan after a probe", 3, quiet, []step{
			{'m', 1, false}, {'n', 1, true}, {'a', 3, false},
		}},
		{"below the plan too", 3, quiet, []step{
			{'a', 3, false}, {'d', 3, false}, {'n', 1, false}, {'a', 1, false}, {'a', 2, false},
		}},
	}
	addr := redistest.Addr(t)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ths := threadsOf(t, addr, 3, Config{})
			var tasks []string
			for i, s := range tt.steps {
				th := ths[i%len(ths)]
				switch s.op {
				case 'a':
					token, err := th.Acquire(ctx, "", 0, 100, long)
					must(t, "Acquire", err)
					id := "task" + strconv.Itoa(i)
					must(t, "Accepted", th.Accepted(ctx, token, id, long, tt.plan, tt.quiet))
					tasks = append(tasks, id)
				case 'm':
					token, err := th.Acquire(ctx, "", 0, 100, long)
					must(t, "Acquire", err)
					must(t, "Release", th.Release(ctx, token, long))
					tasks = append(tasks, "?"+token)
				case 'n':
					probe, err := th.NoSlot(ctx, "", 0)
					must(t, "NoSlot", err)
					if probe != s.probe {
						t.Errorf("step %d: NoSlot() = %v, want %v", i, probe, s.probe)
					}
				case 'd':
					ok, err := th.Done(ctx, tasks[0])
					if !ok || err != nil {
						t.Fatalf("step %d: Done(%s) = %v, %v, want true, nil", i, tasks[0], ok, err)
					}
					tasks = tasks[1:]
				}
				if u := usage(t, th); u.Capacity != s.capacity || u.Tasks != len(tasks) {
					t.Errorf("step %d (%c): Usage() = %+v, want capacity %d, %d tasks", i, s.op, u, s.capacity, len(tasks))
				}
			}
		})
	}
}

func TestThreadsKeysExpire(t *testing.T) {
	// Every key expires on its own: the sets with their last member (the
	// key's and the type's), the learned capacity and the types seen a
	// (scaled) day after their last change.
	addr := redistest.Addr(t)
	f := fleetOf(t, addr, testKey(t), 1, Config{TimeScale: 1000})[0]
	th, ctx := f.Threads, context.Background()
	token, err := th.Acquire(ctx, "recaptcha", 0, 5, time.Second)
	must(t, "Acquire", err)
	_, err = th.Acquire(ctx, "recaptcha", 0, 5, 3*time.Second)
	must(t, "Acquire", err)
	must(t, "Accepted", th.Accepted(ctx, token, "task1", 5*time.Second, 0, quiet))
	want := []time.Duration{5 * time.Second, 3 * time.Second, capTTL / 1000, capTTL / 1000, 5 * time.Second, 3 * time.Second}
	keys := append(th.keys[:4:4], th.types+"recaptcha:leases", th.types+"recaptcha:pending")
	for i, key := range keys {
		ttl, err := f.link.c.PTTL(ctx, key).Result()
		must(t, "PTTL", err)
		if ttl <= 0 || ttl > want[i]+time.Second {
			t.Errorf("PTTL(%s) = %v, want at most %v and a second", key, ttl, want[i])
		}
	}
}
