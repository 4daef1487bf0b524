package redisguard

import (
	"cmp"
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Threads shares the thread permits of slotguard's Config.Threads across
// the fleet: the account's threads are the fleet's, so a task accepted
// through one process holds a thread that every process must count. It
// implements slotguard.SharedThreads; the Transport keeps the policy (when
// to take, keep and give back a permit, what a NO_SLOT answer says) and
// Threads keeps the fleet's counts, per task type and for the key.
//
// Keys per API key, times on the Redis server's clock in microseconds.
// threads:pending is a sorted set of the submits under way, each a token
// scored by when it expires (the ttl given to Acquire); threads:leases one
// of the tasks in flight, each its task id scored by its ceiling (a submit
// that may have been accepted is the anonymous member "?" + its token);
// threads:cap a hash of what the fleet learned, per type: capacity, growth
// (the slow rise's progress) and lastNoSlot; threads:types the set of task
// types seen, at most 32 (later ones share the untyped entry); and for each
// type (the untyped one too) threads:type:TYPE:pending and
// threads:type:TYPE:leases, the same members as the key's two sets, by
// type. All under the key's hash tag. A permit out is a member of the
// key's sets and of its type's. Each call is one Lua script, which first
// drops the members whose time has passed, so a process that dies leaks a
// permit only until its ttl or ceiling. No lock is held across a request.
//
// Acquire admits while the type's permits out are fewer than the type's
// capacity plus the overbook and, with a plan, the key's permits out are
// fewer than the plan plus the overbook; otherwise it waits, until the
// soonest member expires or for Config.Poll at most (a permit freed by
// another process can only be seen by asking), and asks again. A process's
// waiters of one type ask one at a time, in arrival order, and a permit
// this process frees wakes the first waiter of each type at once; across
// processes, and across types, waiters are served in no particular order
// (the first to ask after a permit frees takes it). So a process asks
// Redis about once per Config.Poll per type while it has waiters, however
// many.
//
// Each type's capacity starts at the plan (1 without one) and is learned
// as slotguard's local Threads learns it: Accepted raises it by one when
// the fleet's tasks of the type are above it (never above the plan, and
// one step per capacity's worth of such acceptances while the type's
// NO_SLOT answers came within quiet), and NoSlot lowers it to the fleet's
// tasks of the type when they are below it, unless the key's tasks fill
// the plan.
//
// When Redis loses its state, the permits and leases go with it, and so
// does the capacity: the fleet's tasks still hold the provider's threads
// until they end, but the fleet counts none, and admits from 1 plus the
// overbook again, relearning the capacity (from the plan at the first
// acceptance, when there is one). The NO_SLOT answers this costs lower
// the capacity to the tasks Redis knows of, and acceptances raise it.
type Threads struct {
	l       *link
	keys    []string      // leases, pending, cap, types
	types   string        // the types' key prefix
	ttl     time.Duration // a permit's or lease's time when the caller gives none
	keepCap int64         // ms: how long the learned state outlives its last change
	poll    time.Duration

	id  string
	seq atomic.Uint64

	mu    sync.Mutex
	turns map[string]*turn // by type: at most maxTypes named, and the untyped one
}

// turn lets one waiter of a type in this process ask Redis at a time.
type turn struct {
	sem  *semaphore.Weighted
	wake chan struct{} // a permit was freed here: the asking waiter asks again
}

// capTTL is how long the fleet's learned capacity outlives its last change
// (an acceptance or a NO_SLOT answer).
const capTTL = 24 * time.Hour

func newThreads(l *link, base string, cfg *Config) *Threads {
	return &Threads{
		l: l,
		keys: []string{base + "threads:leases", base + "threads:pending", base + "threads:cap",
			base + "threads:types"},
		types:   base + "threads:type:",
		ttl:     cfg.scaled(cmp.Or(cfg.Pending, defaultPending)),
		keepCap: cfg.scaled(capTTL).Milliseconds(),
		poll:    cmp.Or(cfg.Poll, defaultPoll),
		id:      newID(),
		turns:   make(map[string]*turn),
	}
}

// turnOf is the turn of type typ's waiters: its own, or past maxTypes
// types the untyped one's.
func (th *Threads) turnOf(typ string) *turn {
	th.mu.Lock()
	defer th.mu.Unlock()
	if t, ok := th.turns[typ]; ok {
		return t
	}
	if _, untyped := th.turns[""]; typ != "" && len(th.turns) >= maxTypes+btoi(untyped) {
		typ = ""
		if t, ok := th.turns[typ]; ok {
			return t
		}
	}
	t := &turn{sem: semaphore.NewWeighted(1), wake: make(chan struct{}, 1)}
	th.turns[typ] = t
	return t
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// typeOf is the type a token was taken for: after its second colon.
func typeOf(token string) string {
	_, rest, _ := strings.Cut(token, ":")
	_, typ, _ := strings.Cut(rest, ":")
	return typ
}

// Acquire implements slotguard.SharedThreads: it takes a permit for a
// submit of task type typ when the fleet's permits out of the type
// (submits under way and tasks in flight) are fewer than the type's
// capacity plus overbook and, with a plan, the key's are fewer than plan
// plus overbook, and otherwise waits until they are, or ctx ends (then it returns ctx.Err(), and no permit is
// taken). The permit expires ttl after it was taken (0 or less:
// Config.Pending) unless Accepted or Release names its token first. Each
// check is one Redis call bounded by Config.Timeout; a failed call is an
// *Error at once, and so is every call for Config.Backoff after. A call
// that failed on Redis's side (a timeout) may still have taken the permit,
// which then holds until its ttl.
func (th *Threads) Acquire(ctx context.Context, typ string, plan, overbook int, ttl time.Duration) (string, error) {
	if len(typ) > maxTypeLen {
		typ = "" // as the breaker: a name that long goes untyped
	}
	turn := th.turnOf(typ)
	if err := turn.sem.Acquire(ctx, 1); err != nil {
		return "", err
	}
	defer turn.sem.Release(1)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// The token names its type, for Accepted and Release.
	token := th.id + ":" + strconv.FormatUint(th.seq.Add(1), 36) + ":" + typ
	for {
		res, err := th.l.ints(ctx, "threads acquire", threadsAcquireScript, th.keys, 1,
			th.types, typ, token, overbook, th.or(ttl).Microseconds(), plan, th.keepCap)
		if err != nil {
			if ctx.Err() != nil {
				// The script may have run before ctx ended: give back
				// what it may have taken.
				th.l.run(context.WithoutCancel(ctx), "threads release", threadsReleaseScript, th.keys,
					th.types, typ, token, 0, th.keepCap)
			}
			return "", err
		}
		if res[0] == 1 {
			return token, nil
		}
		wait := th.poll
		if len(res) > 1 && res[1] > 0 {
			wait = min(wait, time.Duration(res[1])*time.Microsecond)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-turn.wake:
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
			return "", ctx.Err()
		}
	}
}

// or is d, or the default time of a permit when d is not positive.
func (th *Threads) or(d time.Duration) time.Duration {
	if d <= 0 {
		return th.ttl
	}
	return d
}

// freed wakes this process's waiters that ask Redis, one of each type, if
// any: a permit went back, or a capacity may have risen.
func (th *Threads) freed() {
	th.mu.Lock()
	defer th.mu.Unlock()
	for _, t := range th.turns {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Accepted implements slotguard.SharedThreads: the permit of token becomes
// the lease of task id until ceiling from now (0 or less: Config.Pending),
// and the fleet's capacity for the token's task type rises by one when its
// tasks of the type are above it, never above plan (0: none). While the
// type's NO_SLOT answers came within quiet, it rises one step per
// capacity's worth of such acceptances. It is recorded even
// when ctx has ended (within Config.Timeout): the provider holds the task.
// A lease already held for id (the provider gave the id again: its task
// ended unseen) takes the new ceiling, and the permit of token goes back.
func (th *Threads) Accepted(ctx context.Context, token, id string, ceiling time.Duration, plan int, quiet time.Duration) error {
	_, err := th.l.ints(context.WithoutCancel(ctx), "threads accepted", threadsAcceptedScript, th.keys, 1,
		th.types, typeOf(token), token, id, th.or(ceiling).Microseconds(), plan, quiet.Microseconds(), th.keepCap)
	th.freed()
	return err
}

// Release implements slotguard.SharedThreads: it gives back the permit of
// token, or with ceiling > 0 keeps it as an anonymous lease until ceiling
// from now, for a submit the provider may have accepted. It is recorded
// even when ctx has ended (within Config.Timeout).
func (th *Threads) Release(ctx context.Context, token string, ceiling time.Duration) error {
	_, err := th.l.run(context.WithoutCancel(ctx), "threads release", threadsReleaseScript, th.keys,
		th.types, typeOf(token), token, max(ceiling, 0).Microseconds(), th.keepCap)
	if ceiling <= 0 {
		th.freed()
	}
	return err
}

// NoSlot implements slotguard.SharedThreads: it learns from a NO_SLOT
// answer to a submit of task type typ. When the fleet's tasks of the type
// are fewer than the type's capacity, and with a plan the key's tasks are
// fewer than plan, the type's capacity falls to them (at least 1) and
// probe is false; otherwise the answer was a probe for a thread freed
// unseen. It is recorded even when ctx has ended (within Config.Timeout).
func (th *Threads) NoSlot(ctx context.Context, typ string, plan int) (probe bool, err error) {
	res, err := th.l.ints(context.WithoutCancel(ctx), "threads no slot", threadsNoSlotScript, th.keys, 1,
		th.types, typ, th.keepCap, plan)
	if err != nil {
		return false, err
	}
	return res[0] == 1, nil
}

// Done implements slotguard.SharedThreads: it ends the lease of task id,
// whichever process holds it, and reports whether there was one (a lease
// past its ceiling is none: it was given back then). It is recorded even
// when ctx has ended (within Config.Timeout).
func (th *Threads) Done(ctx context.Context, id string) (bool, error) {
	res, err := th.l.ints(context.WithoutCancel(ctx), "threads done", threadsDoneScript, th.keys, 1, th.types, id)
	if err != nil {
		return false, err
	}
	if res[0] == 1 {
		th.freed()
	}
	return res[0] == 1, nil
}

// ThreadUsage is what the fleet's thread permits count now.
type ThreadUsage struct {
	Tasks    int // leases: tasks in flight, and submits that may have been accepted
	Submits  int // permits of submits under way
	Capacity int // the fleet's capacity as learned: the sum of the types' (1 before anything is)
}

// Usage reports what the fleet's thread permits count now, for dashboards.
func (th *Threads) Usage(ctx context.Context) (ThreadUsage, error) {
	res, err := th.l.ints(ctx, "threads usage", threadsUsageScript, th.keys, 3)
	if err != nil {
		return ThreadUsage{}, err
	}
	return ThreadUsage{Tasks: int(res[0]), Submits: int(res[1]), Capacity: int(res[2])}, nil
}
