package slotguard

import (
	"context"
	"time"
)

// stats is a snapshot for Stats.
func (th *threads) stats() ThreadStats {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.expire(time.Now())
	s := ThreadStats{
		Held:        th.held,
		Tasks:       th.tasks,
		Capacity:    th.capacity(),
		Limit:       th.limit(),
		Waiters:     th.waiting,
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

// limit is the key's permits allowed: Plan plus its overbook, or the sum
// of the types' limits. th.mu is held.
func (th *threads) limit() int {
	c := th.capacity()
	if th.plan > 0 || len(th.order) == 0 {
		return c + th.over(c)
	}
	n := 0
	for _, k := range th.order {
		n += th.kindLimit(k)
	}
	return n
}

// typeStats are the figures of each named type, for Stats.ByType.
func (th *threads) typeStats() map[string]TypeThreads {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.expire(time.Now())
	m := make(map[string]TypeThreads, len(th.kinds))
	for typ, k := range th.kinds {
		if typ == "" {
			continue // past maxTypes, or no type: in Stats.Threads only
		}
		m[typ] = TypeThreads{Held: k.held, Tasks: k.tasks, Capacity: k.capacity,
			Limit: th.kindLimit(k), Waiters: k.waiters.Len()}
	}
	return m
}

// ThreadStats is the thread permits' part of Stats (Config.Threads), for
// the key: every type's together.
type ThreadStats struct {
	Held  int // permits out: submits under way and tasks in flight
	Tasks int // permits held by tasks accepted (or maybe accepted) and not seen to end
	// Capacity is the account's: Threads.Plan, or the sum of the types'
	// learned capacities.
	Capacity int
	// Limit is the permits allowed: Plan plus the overbook, or the sum of
	// the types' limits. A type may have less room (TypeThreads.Limit).
	Limit   int
	Waiters int // submits waiting for a permit
	// ExpectedWait is how long a new submit would wait for a permit, at
	// the recent pace of releases: 0 when one is free now, -1 when there
	// is no pace to go by yet.
	ExpectedWait time.Duration
	// Permits given back, by why: the submit ended without acceptance; a
	// poll through the Transport saw the task end; TaskDone; the ceiling
	// passed (submits that may have been accepted included).
	NotAccepted, Polled, Explicit, Ceiling int64
}

// TypeThreads are one task type's thread permits (Stats.ByType): its share
// of ThreadStats, and the capacity learned for its workers.
type TypeThreads struct {
	Held     int // permits out: the type's submits under way and tasks in flight
	Tasks    int // of which tasks
	Capacity int // as learned for the type's workers; never above Threads.Plan
	Limit    int // the type's permits allowed: Capacity plus the overbook
	Waiters  int // the type's submits waiting for a permit
}

// TaskDone tells the Transport that task id has ended (solved, or failed
// for good), for tasks whose polls do not pass through it: a pingback, or
// polls sent by another client. It gives back the task's thread permit and
// reports whether the Transport held one for id. Without Config.Threads it
// does nothing and reports false.
func (t *Transport) TaskDone(id string) bool {
	return t.threads != nil && t.taskEnded(context.Background(), id, releaseExplicit)
}
