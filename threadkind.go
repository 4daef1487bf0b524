package slotguard

import (
	"cmp"
	"container/list"
	"time"
)

// threadKind is one task type's part of the thread permits: its learned
// capacity, its permits and tasks, and its line of waiters. NO_SLOT is per
// worker pool (all workers "for your requested CAPTCHA type" are busy), so
// a type whose workers run short learns a small capacity of its own and
// its waiters hold no one else up.
type threadKind struct {
	capacity  int       // as learned: from Plan, or 1; never above Plan
	growth    float64   // acceptances above the capacity toward its next step, while NO_SLOTs come
	lastNoSlo time.Time // the type's last NO_SLOT answer
	held      int       // permits out: submits under way and tasks in flight
	tasks     int       // of which tasks (accepted, or maybe accepted)
	waiters   list.List // of *waiter, oldest first
}

// waiter is a submit waiting for a permit.
type waiter struct {
	ready   chan struct{} // closed when granted
	arrival uint64        // its place in the key's line, across types
	kind    *threadKind
	elem    *list.Element // in kind.waiters
}

// kind returns the entry of task type typ: its own, made on first use, or
// the untyped one for "" and past maxTypes types, so that random method
// names cannot grow memory without bound. th.mu is held.
func (th *threads) kind(typ string) *threadKind {
	if k, ok := th.kinds[typ]; ok {
		return k
	}
	if _, untyped := th.kinds[""]; typ != "" && len(th.kinds) >= maxTypes+boolInt(untyped) {
		return th.kind("")
	}
	k := &threadKind{capacity: cmp.Or(th.plan, 1)}
	th.kinds[typ] = k
	th.order = append(th.order, k)
	return k
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// capacity is the key's: Plan, or the sum of the types' learned
// capacities (one, before any type is seen). th.mu is held.
func (th *threads) capacity() int {
	if th.plan > 0 {
		return th.plan
	}
	if len(th.order) == 0 {
		return 1
	}
	n := 0
	for _, k := range th.order {
		n += k.capacity
	}
	return n
}

// enqueue puts a waiter of type k at the end of its type's line. th.mu is
// held.
func (th *threads) enqueue(k *threadKind) *waiter {
	w := &waiter{ready: make(chan struct{}), arrival: th.arrivals, kind: k}
	th.arrivals++
	w.elem = k.waiters.PushBack(w)
	th.waiting++
	return w
}

// dequeue takes a waiter out of its line. th.mu is held.
func (th *threads) dequeue(w *waiter) {
	w.kind.waiters.Remove(w.elem)
	th.waiting--
}

// accepted turns the permit of an accepted submit of type typ into its
// task's lease, kept until the task is seen to end, or until its ceiling,
// and raises the type's capacity when its tasks are above it.
func (th *threads) accepted(typ, id string, slow bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	k := th.kind(typ)
	th.hold(k, id, slow)
	if k.tasks <= k.capacity || th.plan != 0 && k.capacity >= th.plan {
		return
	}
	if !k.lastNoSlo.IsZero() && time.Since(k.lastNoSlo) < th.quiet {
		// The type's NO_SLOT answers still come: its capacity rises one
		// step per capacity's worth of acceptances above it.
		k.growth += 1 / float64(k.capacity)
		if k.growth < 1 {
			return
		}
	}
	k.growth = 0
	k.capacity++
	th.grant()
}

// noSlot learns from a NO_SLOT answer to a submit of type typ, and reports
// whether it was a probe: the Transport's own tasks filled the type's
// capacity, or the plan.
func (th *threads) noSlot(typ string) (probe bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	k := th.kind(typ)
	k.lastNoSlo = time.Now()
	if k.tasks >= k.capacity || th.plan != 0 && th.tasks >= th.plan {
		// The account's threads are all this Transport's: the answer
		// says nothing about the type's workers.
		return true
	}
	k.capacity = max(k.tasks, 1)
	k.growth = 0
	return false
}
