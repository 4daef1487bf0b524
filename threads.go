package slotguard

import (
	"cmp"
	"container/heap"
	"container/list"
	"context"
	"math"
	"strconv"
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
// The limit is the account's capacity plus an overbook. The capacity is
// Plan when it is set; otherwise it is learned, starting from one thread: an
// acceptance above it raises it by one, and a NO_SLOT answer that arrives
// while this Transport's tasks in flight are fewer than it lowers it to
// them (the plan is smaller, or the provider runs short). While NO_SLOT
// answers keep coming (within the last 10 s), it rises more slowly: one
// step per capacity's worth of acceptances above it. It never rises above
// Plan.
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
	// tasks the provider solves for the key at once. 0: learned from the
	// provider's answers.
	Plan int
	// Overbook is how many permits the limit adds to the capacity, for the
	// lag between a solve's end and the poll that sees it. 0: measured.
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

// threads hands out thread permits, first come first served.
type threads struct {
	plan                 int // 0: unknown
	overbook             int // 0: measured
	ceiling, ceilingSlow time.Duration
	quiet                time.Duration // noSlotQuiet, scaled

	mu        sync.Mutex
	capacity  int       // Plan, or as learned; never above Plan
	growth    float64   // acceptances above the capacity toward its next step, while NO_SLOTs come
	lastNoSlo time.Time // the last NO_SLOT answer
	held      int       // permits out: submits under way and tasks in flight
	tasks     int       // of which tasks (accepted, or maybe accepted)
	waiters   list.List // of chan struct{}, closed when granted
	leases    map[string]*lease
	watched   map[string]*lease // the fleet's tasks this Transport accepted, for the lag (Shared.Threads)
	byEnd     leaseHeap         // the same leases, soonest ceiling first
	maybe     uint64            // synthetic ids for submits that may have been accepted
	released  [releaseReasons]int64
	// Moving means, in seconds: the time between two releases, how long
	// a thread stays free unseen, how long a task holds its thread.
	gap, lag, holdTime float64
	last               time.Time // the last release
}

// lease is a task's hold on a permit.
type lease struct {
	id      string
	end     time.Time // the ceiling
	idx     int       // in byEnd
	start   time.Time // accepted
	running time.Time // the last poll that found it not solved yet
}

func newThreads(c Threads, scale float64) *threads {
	return &threads{
		plan:        c.Plan,
		overbook:    c.Overbook,
		ceiling:     scaled(cmp.Or(c.Ceiling, defaultCeiling), scale),
		ceilingSlow: scaled(cmp.Or(c.Ceiling, defaultCeilingSlow), scale),
		quiet:       scaled(noSlotQuiet, scale),
		capacity:    cmp.Or(c.Plan, 1),
		leases:      make(map[string]*lease),
		watched:     make(map[string]*lease),
	}
}

// overbookNow is the overbook, for the fleet's store.
func (th *threads) overbookNow() int {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.over()
}

// ceilingFor is a task's ceiling.
func (th *threads) ceilingFor(slow bool) time.Duration {
	if slow {
		return th.ceilingSlow
	}
	return th.ceiling
}

// limit is the permits that may be out now. th.mu is held.
func (th *threads) limit() int { return th.capacity + th.over() }

// over is the overbook: set, or the threads expected free unseen at any
// moment, at least one. th.mu is held.
func (th *threads) over() int {
	switch {
	case th.overbook > 0:
		return th.overbook
	case th.holdTime <= 0:
		return defaultOverbook
	}
	return max(1, int(math.Round(float64(th.capacity)*th.lag/th.holdTime)))
}

// acquire takes a permit, waiting in arrival order until one is free or
// ctx ends, and reports how long it waited.
func (th *threads) acquire(ctx context.Context) (time.Duration, error) {
	th.mu.Lock()
	if len(th.byEnd) > 0 {
		th.expire(time.Now())
	}
	if th.waiters.Len() == 0 && th.held < th.limit() {
		th.held++
		th.mu.Unlock()
		return 0, nil
	}
	ready := make(chan struct{})
	elem := th.waiters.PushBack(ready)
	th.mu.Unlock()
	start := time.Now()
	for {
		// Wake at the soonest ceiling too: a lease that expires frees a
		// permit with no other event to hand it on.
		var expired <-chan time.Time
		var timer *time.Timer
		th.mu.Lock()
		if len(th.byEnd) > 0 {
			timer = time.NewTimer(max(time.Until(th.byEnd[0].end), 1))
			expired = timer.C
		}
		th.mu.Unlock()
		select {
		case <-ready:
			stopTimer(timer)
			return time.Since(start), nil
		case <-ctx.Done():
			stopTimer(timer)
			th.mu.Lock()
			select {
			case <-ready:
				th.held-- // granted as ctx ended: given back
			default:
				th.waiters.Remove(elem)
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

// grant hands free permits to the waiters, in arrival order. th.mu is held.
func (th *threads) grant() {
	for th.waiters.Len() > 0 && th.held < th.limit() {
		ready := th.waiters.Remove(th.waiters.Front()).(chan struct{})
		th.held++
		close(ready)
	}
}

// release gives back the permit of a submit that ended without acceptance.
func (th *threads) release() {
	th.mu.Lock()
	th.free(releaseNotAccepted, time.Now())
	th.mu.Unlock()
}

// free gives back one permit. th.mu is held.
func (th *threads) free(reason int, now time.Time) {
	th.held--
	th.released[reason]++
	if !th.last.IsZero() {
		th.gap = mean(th.gap, now.Sub(th.last).Seconds(), 0.1)
	}
	th.last = now
	th.grant()
}

func mean(m, x, weight float64) float64 { return m + weight*(x-m) }

// accepted turns the permit of an accepted submit into its task's lease,
// kept until the task is seen to end, or until its ceiling, and raises the
// capacity when the task is above it.
func (th *threads) accepted(id string, slow bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.hold(id, slow)
	if th.tasks <= th.capacity || th.plan != 0 && th.capacity >= th.plan {
		return
	}
	if !th.lastNoSlo.IsZero() && time.Since(th.lastNoSlo) < th.quiet {
		// NO_SLOT answers still come: the capacity rises one step per
		// capacity's worth of acceptances above it.
		th.growth += 1 / float64(th.capacity)
		if th.growth < 1 {
			return
		}
	}
	th.growth = 0
	th.capacity++
	th.grant()
}

// maybeAccepted keeps the permit of a submit the provider may have
// accepted, without an id to see its end by, until the ceiling.
func (th *threads) maybeAccepted(slow bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.maybe++
	th.hold("?"+strconv.FormatUint(th.maybe, 10), slow)
}

// hold records a lease for the permit a submit holds. th.mu is held.
func (th *threads) hold(id string, slow bool) {
	d := th.ceilingFor(slow)
	now := time.Now()
	if old, ok := th.leases[id]; ok {
		// The provider gave an id still held: the old task ended
		// unseen. Its permit goes back; the new task takes the id.
		th.drop(old)
		th.free(releaseCeiling, now)
	}
	l := &lease{id: id, end: now.Add(d), start: now}
	th.leases[id] = l
	heap.Push(&th.byEnd, l)
	th.tasks++
}

// noSlot learns from a NO_SLOT answer, and reports whether it was a probe:
// the Transport's own tasks filled the capacity.
func (th *threads) noSlot() (probe bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.lastNoSlo = time.Now()
	if th.tasks >= th.capacity {
		return true
	}
	th.capacity = max(th.tasks, 1)
	th.growth = 0
	return false
}

// done ends the lease of task id, if this Transport holds one, and reports
// whether it did.
func (th *threads) done(id string, reason int) bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	now := time.Now()
	l, ok := th.leases[id]
	if !ok {
		if w, ok := th.watched[id]; ok {
			delete(th.watched, id)
			if reason == releasePolled {
				th.measure(w, now)
			}
		}
		return false
	}
	if reason == releasePolled {
		th.measure(l, now)
	}
	th.drop(l)
	th.free(reason, now)
	return true
}

// maxWatched bounds the fleet's tasks watched for the lag; past it, they
// are forgotten and watched anew.
const maxWatched = 1 << 14

// watch notes a task of the fleet's, accepted through this Transport: its
// polls measure the lag as a lease's do.
func (th *threads) watch(id string) {
	th.mu.Lock()
	if len(th.watched) >= maxWatched {
		clear(th.watched)
	}
	th.watched[id] = &lease{id: id, start: time.Now()}
	th.mu.Unlock()
}

// measure takes the lag of a task seen to end. th.mu is held.
func (th *threads) measure(l *lease, now time.Time) {
	if !l.running.IsZero() {
		// A thread stays free unseen for half the gap between the poll
		// that found the task running and the one that found it ended,
		// on average.
		th.lag = mean(th.lag, now.Sub(l.running).Seconds()/2, 0.05)
		th.holdTime = mean(th.holdTime, now.Sub(l.start).Seconds(), 0.05)
	}
}

// pending notes a poll that found task id not solved yet.
func (th *threads) pending(id string) {
	th.mu.Lock()
	if l, ok := th.leases[id]; ok {
		l.running = time.Now()
	} else if l, ok := th.watched[id]; ok {
		l.running = time.Now()
	}
	th.mu.Unlock()
}

// drop removes a lease. th.mu is held.
func (th *threads) drop(l *lease) {
	delete(th.leases, l.id)
	heap.Remove(&th.byEnd, l.idx)
	th.tasks--
}

// expire ends the leases whose ceiling has passed. th.mu is held.
func (th *threads) expire(now time.Time) {
	for len(th.byEnd) > 0 && !th.byEnd[0].end.After(now) {
		th.drop(th.byEnd[0])
		th.free(releaseCeiling, now)
	}
}

// stats is a snapshot for Stats.
func (th *threads) stats() ThreadStats {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.expire(time.Now())
	s := ThreadStats{
		Held:        th.held,
		Tasks:       th.tasks,
		Capacity:    th.capacity,
		Limit:       th.limit(),
		Waiters:     th.waiters.Len(),
		NotAccepted: th.released[releaseNotAccepted],
		Polled:      th.released[releasePolled],
		Explicit:    th.released[releaseExplicit],
		Ceiling:     th.released[releaseCeiling],
	}
	switch {
	case th.held < s.Limit:
	case th.gap == 0:
		s.ExpectedWait = -1
	default:
		// A new submit waits for everyone ahead of it and one more
		// release, at the recent pace of releases.
		s.ExpectedWait = time.Duration(float64(s.Waiters+1) * th.gap * float64(time.Second))
	}
	return s
}

// ThreadStats is the thread permits' part of Stats (Config.Threads).
type ThreadStats struct {
	Held     int // permits out: submits under way and tasks in flight
	Tasks    int // permits held by tasks accepted (or maybe accepted) and not seen to end
	Capacity int // the account's capacity: Threads.Plan, or as learned
	Limit    int // permits allowed: Capacity plus the overbook
	Waiters  int // submits waiting for a permit
	// ExpectedWait is how long a new submit would wait for a permit, at
	// the recent pace of releases: 0 when one is free now, -1 when there
	// is no pace to go by yet.
	ExpectedWait time.Duration
	// Permits given back, by why: the submit ended without acceptance; a
	// poll through the Transport saw the task end; TaskDone; the ceiling
	// passed (submits that may have been accepted included).
	NotAccepted, Polled, Explicit, Ceiling int64
}

// TaskDone tells the Transport that task id has ended (solved, or failed
// for good), for tasks whose polls do not pass through it: a pingback, or
// polls sent by another client. It gives back the task's thread permit and
// reports whether the Transport held one for id. Without Config.Threads it
// does nothing and reports false.
func (t *Transport) TaskDone(id string) bool {
	return t.threads != nil && t.taskEnded(context.Background(), id, releaseExplicit)
}

// leaseHeap orders leases by ceiling, soonest first.
type leaseHeap []*lease

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].end.Before(h[j].end) }
func (h leaseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *leaseHeap) Push(x any) {
	l := x.(*lease)
	l.idx = len(*h)
	*h = append(*h, l)
}
func (h *leaseHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}
