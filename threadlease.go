package slotguard

import (
	"container/heap"
	"strconv"
	"time"
)

// lease is a task's hold on a permit.
type lease struct {
	id      string
	kind    *threadKind // the task's type
	end     time.Time   // the ceiling
	idx     int         // in byEnd
	start   time.Time   // accepted
	running time.Time   // the last poll that found it not solved yet
}

// maybeAccepted keeps the permit of a submit of type typ the provider may
// have accepted, without an id to see its end by, until the ceiling.
func (th *threads) maybeAccepted(typ string, slow bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.maybe++
	th.hold(th.kind(typ), "?"+strconv.FormatUint(th.maybe, 10), slow)
}

// hold records a lease for the permit a submit of type k holds. th.mu is
// held.
func (th *threads) hold(k *threadKind, id string, slow bool) {
	d := th.ceilingFor(slow)
	now := time.Now()
	if old, ok := th.leases[id]; ok {
		// The provider gave an id still held: the old task ended
		// unseen. Its permit goes back; the new task takes the id.
		th.drop(old)
		th.free(old.kind, releaseCeiling, now)
	}
	l := &lease{id: id, kind: k, end: now.Add(d), start: now}
	th.leases[id] = l
	heap.Push(&th.byEnd, l)
	if th.byEnd[0] == l && th.sooner != nil {
		close(th.sooner)
		th.sooner = nil
	}
	k.tasks++
	th.tasks++
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
	th.free(l.kind, reason, now)
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
	l.kind.tasks--
	th.tasks--
}

// expire ends the leases whose ceiling has passed. th.mu is held.
func (th *threads) expire(now time.Time) {
	for len(th.byEnd) > 0 && !th.byEnd[0].end.After(now) {
		l := th.byEnd[0]
		th.drop(l)
		th.free(l.kind, releaseCeiling, now)
	}
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
