package redisguard

import (
	"cmp"
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/semaphore"
)

// Threads shares the thread permits of slotguard's Config.Threads across
// the fleet: the account's threads are the fleet's, so a task accepted
// through one process holds a thread that every process must count. It
// implements slotguard.SharedThreads; the Transport keeps the policy (when
// to take, keep and give back a permit, what a NO_SLOT answer says) and
// Threads keeps the fleet's counts.
//
// Three keys per API key, times on the Redis server's clock in
// microseconds. threads:pending is a sorted set of the submits under way,
// each a token scored by when it expires (the ttl given to Acquire);
// threads:leases one of the tasks in flight, each its task id scored by
// its ceiling (a submit that may have been accepted is the anonymous
// member "?" + its token); threads:cap a hash of what the fleet learned:
// capacity, growth (the slow rise's progress) and lastNoSlot. A permit
// out is a member of either set. Each call is one Lua script, which first
// drops the members whose time has passed, so a process that dies leaks a
// permit only until its ttl or ceiling. No lock is held across a request.
//
// Acquire admits while the permits out are fewer than the capacity plus
// the overbook; otherwise it waits, until the soonest member expires or for
// Config.Poll at most (a permit freed by another process can only be seen
// by asking), and asks again. A process's waiters ask one at a time, in
// arrival order, and a permit this process frees wakes its first waiter at
// once; across processes waiters are served in no particular order (the
// first to ask after a permit frees takes it). So a process asks Redis
// about once per Config.Poll while it has waiters, however many.
//
// The capacity starts at the plan (1 without one) and is learned as
// slotguard's local Threads learns it: Accepted raises it by one when the
// fleet's tasks are above it (never above the plan, and one step per
// capacity's worth of such acceptances while NO_SLOT answers came within
// quiet), and NoSlot lowers it to the fleet's tasks when they are below
// it.
//
// When Redis loses its state, the permits and leases go with it, and so
// does the capacity: the fleet's tasks still hold the provider's threads
// until they end, but the fleet counts none, and admits from 1 plus the
// overbook again, relearning the capacity (from the plan at the first
// acceptance, when there is one). The NO_SLOT answers this costs lower
// the capacity to the tasks Redis knows of, and acceptances raise it.
type Threads struct {
	l       *link
	keys    []string      // leases, pending, cap
	ttl     time.Duration // a permit's or lease's time when the caller gives none
	keepCap int64         // ms: how long the cap hash outlives its last change
	poll    time.Duration

	id  string
	seq atomic.Uint64

	turn *semaphore.Weighted // one waiter of this process asks Redis at a time
	wake chan struct{}       // a permit was freed here: the asking waiter asks again
}

// capTTL is how long the fleet's learned capacity outlives its last change
// (an acceptance or a NO_SLOT answer).
const capTTL = 24 * time.Hour

func newThreads(l *link, base string, cfg *Config) *Threads {
	return &Threads{
		l:       l,
		keys:    []string{base + "threads:leases", base + "threads:pending", base + "threads:cap"},
		ttl:     cfg.scaled(cmp.Or(cfg.Pending, defaultPending)),
		keepCap: cfg.scaled(capTTL).Milliseconds(),
		poll:    cmp.Or(cfg.Poll, defaultPoll),
		id:      newID(),
		turn:    semaphore.NewWeighted(1),
		wake:    make(chan struct{}, 1),
	}
}

// luaThreads starts every script of Threads, after luaNow: KEYS[1] the
// leases, KEYS[2] the submits under way, KEYS[3] the learned state. It
// drops the expired members, and defines keep, which makes a set expire
// with its last member, and learned, which reads the capacity (def when
// there is none) and the rest of the learned state.
const luaThreads = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local function keep(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, math.ceil((tonumber(last[2]) - now) / 1000) + 1000)
  end
end
local function learned(def)
  local f = redis.call('HMGET', KEYS[3], 'capacity', 'growth', 'lastNoSlot')
  return tonumber(f[1]) or def, tonumber(f[2]) or 0, tonumber(f[3])
end
local function learn(capacity, growth, keepMs)
  redis.call('HSET', KEYS[3], 'capacity', capacity, 'growth', growth)
  redis.call('PEXPIRE', KEYS[3], keepMs)
end
`

// threadsAcquireScript: ARGV[1] the token, ARGV[2] the overbook, ARGV[3]
// the ttl in µs, ARGV[4] the plan (0: none). It returns {1} when the
// permit is taken, or {0, wait}: µs until the soonest member expires.
var threadsAcquireScript = redis.NewScript(luaNow + luaThreads + `
local plan = tonumber(ARGV[4])
local capacity = learned(math.max(plan, 1))
if plan > 0 and capacity > plan then
  capacity = plan
end
local out = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if out < capacity + tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  keep(KEYS[2])
  return {1}
end
local wait = -1
for i = 1, 2 do
  local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if first[2] then
    local w = tonumber(first[2]) - now
    if wait < 0 or w < wait then wait = w end
  end
end
return {0, wait}
`)

// threadsAcceptedScript: ARGV[1] the token, ARGV[2] the task id, ARGV[3]
// the ceiling in µs, ARGV[4] the plan (0: none), ARGV[5] quiet in µs,
// ARGV[6] how long the learned state lives, in ms. It returns {capacity}.
var threadsAcceptedScript = redis.NewScript(luaNow + luaThreads + `
local plan, quiet = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
keep(KEYS[1])
local capacity, growth, last = learned(math.max(plan, 1))
if plan > 0 and capacity > plan then
  capacity = plan
end
if redis.call('ZCARD', KEYS[1]) > capacity and (plan == 0 or capacity < plan) then
  local slow = last and now - last < quiet
  if slow then
    growth = growth + 1 / capacity
  end
  if not slow or growth >= 1 then
    capacity, growth = capacity + 1, 0
  end
end
learn(capacity, growth, ARGV[6])
return {capacity}
`)

// threadsReleaseScript: ARGV[1] the token, ARGV[2] 0, or the ceiling in µs
// of the anonymous lease it becomes.
var threadsReleaseScript = redis.NewScript(luaNow + luaThreads + `
redis.call('ZREM', KEYS[2], ARGV[1])
local ceiling = tonumber(ARGV[2])
if ceiling > 0 then
  redis.call('ZADD', KEYS[1], now + ceiling, '?' .. ARGV[1])
  keep(KEYS[1])
end
return {1}
`)

// threadsNoSlotScript: ARGV[1] how long the learned state lives, in ms. It
// returns {1} for a probe (the tasks fill the capacity), {0} otherwise. A
// probe leaves the capacity as it was, or unset: the first Accepted may
// still set it to the plan.
var threadsNoSlotScript = redis.NewScript(luaNow + luaThreads + `
local tasks = redis.call('ZCARD', KEYS[1])
local capacity = learned(1)
redis.call('HSET', KEYS[3], 'lastNoSlot', now)
if tasks >= capacity then
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
  return {1}
end
learn(math.max(tasks, 1), 0, ARGV[1])
return {0}
`)

// threadsDoneScript: ARGV[1] the task id. It returns {1} when the lease was
// there, {0} otherwise.
var threadsDoneScript = redis.NewScript(luaNow + luaThreads + `
return {redis.call('ZREM', KEYS[1], ARGV[1])}
`)

// threadsUsageScript returns {tasks, submits, capacity}.
var threadsUsageScript = redis.NewScript(luaNow + luaThreads + `
local capacity = learned(1)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), capacity}
`)

// Acquire implements slotguard.SharedThreads: it takes a permit for a
// submit when the fleet's permits out (submits under way and tasks in
// flight) are fewer than the capacity plus overbook, and otherwise waits
// until they are, or ctx ends (then it returns ctx.Err(), and no permit is
// taken). The permit expires ttl after it was taken (0 or less:
// Config.Pending) unless Accepted or Release names its token first. Each
// check is one Redis call bounded by Config.Timeout; a failed call is an
// *Error at once, and so is every call for Config.Backoff after. A call
// that failed on Redis's side (a timeout) may still have taken the permit,
// which then holds until its ttl.
func (th *Threads) Acquire(ctx context.Context, plan, overbook int, ttl time.Duration) (string, error) {
	if err := th.turn.Acquire(ctx, 1); err != nil {
		return "", err
	}
	defer th.turn.Release(1)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	token := th.id + ":" + strconv.FormatUint(th.seq.Add(1), 36)
	for {
		res, err := th.l.ints(ctx, "threads acquire", threadsAcquireScript, th.keys, 1,
			token, overbook, th.or(ttl).Microseconds(), plan)
		if err != nil {
			if ctx.Err() != nil {
				// The script may have run before ctx ended: give back
				// what it may have taken.
				th.l.run(context.WithoutCancel(ctx), "threads release", threadsReleaseScript, th.keys, token, 0)
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
		case <-th.wake:
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

// freed wakes this process's waiter that asks Redis, if any: a permit
// went back, or the capacity may have risen.
func (th *Threads) freed() {
	select {
	case th.wake <- struct{}{}:
	default:
	}
}

// Accepted implements slotguard.SharedThreads: the permit of token becomes
// the lease of task id until ceiling from now (0 or less: Config.Pending),
// and the fleet's capacity rises by one when its tasks are above it, never
// above plan (0: none). While NO_SLOT answers came within quiet, it rises
// one step per capacity's worth of such acceptances. It is recorded even
// when ctx has ended (within Config.Timeout): the provider holds the task.
// A lease already held for id (the provider gave the id again: its task
// ended unseen) takes the new ceiling, and the permit of token goes back.
func (th *Threads) Accepted(ctx context.Context, token, id string, ceiling time.Duration, plan int, quiet time.Duration) error {
	_, err := th.l.ints(context.WithoutCancel(ctx), "threads accepted", threadsAcceptedScript, th.keys, 1,
		token, id, th.or(ceiling).Microseconds(), plan, quiet.Microseconds(), th.keepCap)
	th.freed()
	return err
}

// Release implements slotguard.SharedThreads: it gives back the permit of
// token, or with ceiling > 0 keeps it as an anonymous lease until ceiling
// from now, for a submit the provider may have accepted. It is recorded
// even when ctx has ended (within Config.Timeout).
func (th *Threads) Release(ctx context.Context, token string, ceiling time.Duration) error {
	_, err := th.l.run(context.WithoutCancel(ctx), "threads release", threadsReleaseScript, th.keys, token, max(ceiling, 0).Microseconds())
	if ceiling <= 0 {
		th.freed()
	}
	return err
}

// NoSlot implements slotguard.SharedThreads: it learns from a NO_SLOT
// answer. When the fleet's tasks in flight are fewer than its capacity, the
// capacity falls to them (at least 1) and probe is false; otherwise the
// answer was a probe for a thread freed unseen. It is recorded even when
// ctx has ended (within Config.Timeout).
func (th *Threads) NoSlot(ctx context.Context) (probe bool, err error) {
	res, err := th.l.ints(context.WithoutCancel(ctx), "threads no slot", threadsNoSlotScript, th.keys, 1, th.keepCap)
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
	res, err := th.l.ints(context.WithoutCancel(ctx), "threads done", threadsDoneScript, th.keys, 1, id)
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
	Capacity int // the fleet's capacity as learned (1 before anything is)
}

// Usage reports what the fleet's thread permits count now, for dashboards.
func (th *Threads) Usage(ctx context.Context) (ThreadUsage, error) {
	res, err := th.l.ints(ctx, "threads usage", threadsUsageScript, th.keys, 3)
	if err != nil {
		return ThreadUsage{}, err
	}
	return ThreadUsage{Tasks: int(res[0]), Submits: int(res[1]), Capacity: int(res[2])}, nil
}
