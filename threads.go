package slotguard

import (
	"cmp"
	"context"
	"math"
	"sync"
	"time"
)

// Threads makes each submit hold a thread permit from before its first
// attempt until its task ends, as the provider's threads are held: a task
// holds one of the account's threads from acceptance until it is solved,
// and a submit that finds every thread busy is answered NO_SLOT. With
// permits, a submit waits in the Transport, in arrival order and
// cancellably, instead of spending attempts on NO_SLOT answers, and goes
// as soon as a task of this Transport is seen to end.
//
// A permit is kept through NO_SLOT retries. It is given back:
//   - as soon as the submit ends without acceptance (a final answer, the
//     attempts spent, a cancelled wait, an open breaker);
//   - when the Transport sees the task end: a res.php action=get or
//     getTaskResult answer for the task's id that carries the solution or
//     a final error (ERROR_CAPTCHA_UNSOLVABLE and the like), sent through
//     the same Transport;
//   - by Transport.TaskDone, for tasks whose polls bypass the Transport
//     (a pingback, another client);
//   - at the task's ceiling, so that a lost poll never keeps a thread for
//     good.
//
// A submit that may have been accepted (a transport error, an HTTP 5xx, an
// answer cut short) keeps its permit until the ceiling: the provider may be
// solving it.
//
// The limit is a capacity plus an overbook, kept per task type (TaskType,
// for the first 32 types seen; later ones share one entry): NO_SLOT means
// every worker "for your requested CAPTCHA type" is busy, so one type's
// shortage must not hold the others. A type's capacity is learned,
// starting from Plan, or from one thread without a plan: an acceptance of
// the type above it raises it by one, and a NO_SLOT answer to the type
// that arrives while the type's tasks in flight are fewer than it lowers
// it to them (the plan is smaller, or the type's workers run short).
// While the type's NO_SLOT answers keep coming (within the last 10 s), it
// rises more slowly: one step per capacity's worth of acceptances above
// it. It never rises above Plan. Plan is the key's total, which the types
// share: the permits out of every type together stay within Plan plus the
// overbook, and a NO_SLOT answered while the key's tasks fill Plan teaches
// no type anything. Without a plan the key has no total beyond the sum of
// the types' limits.
//
// A submit waits in line behind the older submits of its own type only: a
// submit of a type with room goes at once, even while another type's wait
// for its workers. When the key's total is what holds them, the permit
// that comes back goes to the oldest submit of any type with room.
//
// With Shared.Threads the fleet's store holds the permits and learns each
// type's capacity for the fleet (see SharedThreads); the Transport's own,
// above, stand in while the store is down.
//
// The overbook covers the lag between a solve's end and the poll that sees
// it: the provider frees the thread first. Unless Overbook sets it, it is
// measured: the threads expected free unseen at any moment, from the gap
// between the last poll that found a task running and the one that found
// it ended, against how long a task holds its thread (2 until measured, and
// at least 1). So the faster the polls, the smaller it is: first poll as
// the provider asks, then every second or two, gives the most of the
// account for the fewest NO_SLOT answers (see cmd/slotbench).
//
// A NO_SLOT answered while the Transport's own tasks fill the capacity is
// the cost of that overbook, a probe for a thread freed unseen, not a
// refusal: it does not count toward Backoff.Attempts, and its wait does not
// grow past the backoff's fourth. A submit is therefore not given up while
// the Transport's own tasks hold the account; cancel its context to bound
// its wait.
type Threads struct {
	// Enabled switches thread permits on. The zero value: off.
	Enabled bool
	// Plan is the account's thread count, when you know it: the most
	// tasks the provider solves for the key at once, all types together.
	// 0: no total; each type's capacity is learned from the provider's
	// answers.
	Plan int
	// Overbook is how many permits the limit adds to the capacity (the
	// key's Plan, and each type's), for the lag between a solve's end and
	// the poll that sees it. 0: measured.
	Overbook int
	// Ceiling is the longest a task holds its permit without being seen to
	// end. 0: 2 minutes, 5 minutes for reCAPTCHA-like tasks (see
	// PollPacing.FirstSlow for which those are).
	Ceiling time.Duration
}

// Threads defaults.
const (
	defaultOverbook    = 2 // until the lag is measured
	defaultCeiling     = 2 * time.Minute
	defaultCeilingSlow = 5 * time.Minute
	// noSlotQuiet is how long after a NO_SLOT answer the capacity rises
	// slowly.
	noSlotQuiet = 10 * time.Second
	// maxProbeWait is the backoff wait a probe's waits stop growing at.
	maxProbeWait = 4
)

func (c Threads) validate(name string) error {
	switch {
	case c.Plan < 0:
		return fieldError(name+".Plan", c.Plan, "must not be negative (0: learned)")
	case c.Overbook < 0:
		return fieldError(name+".Overbook", c.Overbook, "must not be negative (0: measured)")
	case c.Ceiling < 0:
		return fieldError(name+".Ceiling", c.Ceiling, "must not be negative")
	}
	return nil
}

// Why a permit was given back, as counted in ThreadStats.
const (
	releaseNotAccepted = iota
	releasePolled
	releaseExplicit
	releaseCeiling
	releaseReasons
)

// threads hands out thread permits: per task type, first come first
// served within a type, within the key's total when there is a plan.
type threads struct {
	plan                 int // 0: unknown
	overbook             int // 0: measured
	ceiling, ceilingSlow time.Duration
	quiet                time.Duration // noSlotQuiet, scaled

	mu       sync.Mutex
	held     int                    // permits out, every type's: submits under way and tasks in flight
	tasks    int                    // of which tasks (accepted, or maybe accepted)
	kinds    map[string]*threadKind // by task type: at most maxTypes named, and the untyped one
	order    []*threadKind          // the same, as made: the waiters' lines, scanned by grant
	waiting  int                    // waiters, every type's
	arrivals uint64                 // waiters so far: each one's place in the key's line
	leases   map[string]*lease
	watched  map[string]*lease // the fleet's tasks this Transport accepted, for the lag (Shared.Threads)
	byEnd    leaseHeap         // the same leases, soonest ceiling first
	sooner   chan struct{}     // closed when a lease takes the soonest ceiling: waiters re-arm their timers
	maybe    uint64            // synthetic ids for submits that may have been accepted
	released [releaseReasons]int64
	// Moving means, in seconds: the time between two releases, how long
	// a thread stays free unseen, how long a task holds its thread.
	gap, lag, holdTime float64
	last               time.Time // the last release
}

func newThreads(c Threads, scale float64) *threads {
	return &threads{
		plan:        c.Plan,
		overbook:    c.Overbook,
		ceiling:     scaled(cmp.Or(c.Ceiling, defaultCeiling), scale),
		ceilingSlow: scaled(cmp.Or(c.Ceiling, defaultCeilingSlow), scale),
		quiet:       scaled(noSlotQuiet, scale),
		kinds:       make(map[string]*threadKind),
		leases:      make(map[string]*lease),
		watched:     make(map[string]*lease),
	}
}

// overbookNow is the key's overbook, for the fleet's store.
func (th *threads) overbookNow() int {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.over(th.capacity())
}

// ceilingFor is a task's ceiling.
func (th *threads) ceilingFor(slow bool) time.Duration {
	if slow {
		return th.ceilingSlow
	}
	return th.ceiling
}

// over is the overbook of a capacity: set, or the threads of it expected
// free unseen at any moment, at least one. th.mu is held.
func (th *threads) over(capacity int) int {
	switch {
	case th.overbook > 0:
		return th.overbook
	case th.holdTime <= 0:
		return defaultOverbook
	}
	return max(1, int(math.Round(float64(capacity)*th.lag/th.holdTime)))
}

// keyRoom reports whether the key's total takes one more permit: always
// without a plan. th.mu is held.
func (th *threads) keyRoom() bool {
	return th.plan == 0 || th.held < th.plan+th.over(th.plan)
}

// room reports whether type k takes one more permit. th.mu is held.
func (th *threads) room(k *threadKind) bool {
	return k.held < th.kindLimit(k) && th.keyRoom()
}

// kindLimit is the permits type k may have out. th.mu is held.
func (th *threads) kindLimit(k *threadKind) int { return k.capacity + th.over(k.capacity) }

// acquire takes a permit for a submit of type typ, waiting behind the
// older submits of its type until one is free or ctx ends, and reports how
// long it waited.
func (th *threads) acquire(ctx context.Context, typ string) (time.Duration, error) {
	th.mu.Lock()
	if len(th.byEnd) > 0 {
		th.expire(time.Now())
	}
	k := th.kind(typ)
	// No waiter of any type can take a permit now (grant hands them out
	// as soon as they can): with room, this submit jumps no one.
	if k.waiters.Len() == 0 && th.room(k) {
		th.take(k)
		th.mu.Unlock()
		return 0, nil
	}
	w := th.enqueue(k)
	th.mu.Unlock()
	start := time.Now()
	for {
		// Wake at the soonest ceiling too: a lease that expires frees a
		// permit with no other event to hand it on. A lease taken while
		// this one waits may end sooner (or be the first): it wakes the
		// waiters (sooner) to set their timers again.
		var expired <-chan time.Time
		var timer *time.Timer
		th.mu.Lock()
		if len(th.byEnd) > 0 {
			timer = time.NewTimer(max(time.Until(th.byEnd[0].end), 1))
			expired = timer.C
		}
		if th.sooner == nil {
			th.sooner = make(chan struct{})
		}
		sooner := th.sooner
		th.mu.Unlock()
		select {
		case <-w.ready:
			stopTimer(timer)
			return time.Since(start), nil
		case <-sooner:
			stopTimer(timer)
		case <-ctx.Done():
			stopTimer(timer)
			th.mu.Lock()
			select {
			case <-w.ready:
				th.give(k) // granted as ctx ended: given back
			default:
				th.dequeue(w)
			}
			th.grant() // a waiter behind this one may fit now
			th.mu.Unlock()
			return time.Since(start), ctx.Err()
		case <-expired:
			th.mu.Lock()
			th.expire(time.Now())
			th.mu.Unlock()
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// take and give count a permit of type k out and back. th.mu is held.
func (th *threads) take(k *threadKind) { k.held++; th.held++ }
func (th *threads) give(k *threadKind) { k.held--; th.held-- }

// grant hands free permits to the waiters: to the oldest first of those
// whose type has room, while the key's total has room. th.mu is held.
func (th *threads) grant() {
	for th.waiting > 0 && th.keyRoom() {
		var next *waiter
		for _, k := range th.order {
			if k.waiters.Len() == 0 || k.held >= th.kindLimit(k) {
				continue
			}
			if w := k.waiters.Front().Value.(*waiter); next == nil || w.arrival < next.arrival {
				next = w
			}
		}
		if next == nil {
			return
		}
		th.dequeue(next)
		th.take(next.kind)
		close(next.ready)
	}
}

// release gives back the permit of a submit of type typ that ended
// without acceptance.
func (th *threads) release(typ string) {
	th.mu.Lock()
	th.free(th.kind(typ), releaseNotAccepted, time.Now())
	th.mu.Unlock()
}

// free gives back one permit of type k. th.mu is held.
func (th *threads) free(k *threadKind, reason int, now time.Time) {
	th.give(k)
	th.released[reason]++
	if !th.last.IsZero() {
		th.gap = mean(th.gap, now.Sub(th.last).Seconds(), 0.1)
	}
	th.last = now
	th.grant()
}

func mean(m, x, weight float64) float64 { return m + weight*(x-m) }
