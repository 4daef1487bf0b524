// Package redisguard keeps the state that processes sharing one API key must
// share in Redis: one pacer, one ban budget, one breaker and one set of
// thread permits for a whole fleet. Plug it into slotguard through Config.Shared:
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "redis.internal:6379",
//		ContextTimeoutEnabled: true, // required: lets redisguard bound each call
//	})
//	fleet, err := redisguard.New(rdb, apiKey, redisguard.Config{Rate: 2})
//	...
//	t, err := slotguard.New(nil, slotguard.Config{Shared: fleet.Shared()})
//
// Every process runs the same code with the same Config. What Config.Rate,
// Burst and Budget say is then the fleet's, all processes together; each
// process's own slotguard.Config limits still apply on top. The zero Config
// is the provider's advice: 2 attempts/s, burst 1, 110 NO_SLOT answers a
// minute (the provider blocks the key for 10 minutes at 120), 50 submits per
// 3 s (MAX_USER_TURN past 60), 50 ms per Redis call. slotguard's hourly
// schedule moves the shared pacer through its SetLimit; its adaptive pacing
// keeps a rate per task type in each process, below the shared one.
//
// Forty processes with their own pacers at 2/s send 80 attempts a second,
// and forty local NO_SLOT budgets are forty times the ban line; with
// redisguard the fleet draws from one limit, one budget and one view of the
// outage.
//
// # What is shared, and how
//
//   - Pacer: one GCRA schedule (the algorithm of redis_rate and
//     x/time/rate) in Redis. Wait reserves the next slot in one script
//     call and sleeps until it, as rate.Limiter.Wait does; see Pacer for
//     why that rather than redis_rate's allow-or-retry loop. One round trip
//     per attempt.
//   - Budget: sorted sets of NO_SLOT answers (per rolling minute), attempts
//     (per rolling 3 s) and attempts in flight, checked and updated by one
//     Lua script per Admit and one per Done. An attempt in flight counts as
//     a NO_SLOT to come, so the fleet can never send the one that crosses
//     the line, however many processes admit at once; an attempt whose
//     answer was lost counts as a NO_SLOT for the minute.
//   - Breaker: per task type, as slotguard's own. A run of NO_SLOT
//     answers opens its type's breaker for the fleet (a reCAPTCHA shortage
//     leaves image captchas alone); a ban opens the key's, which refuses
//     every type. An open state is a key that expires at the opening's
//     end; a second key remembers that the fleet tripped, so that after
//     the end exactly one probe per breaker (a SET NX key with a bounded
//     TTL) goes through for the whole fleet, and a probe whose answer
//     proved nothing is released at once for the next. The first 32
//     types that open get a breaker each; the others share the untyped
//     one, so random method names cannot grow Redis without bound. Each
//     transition is one Lua script.
//   - Threads: the thread permits of slotguard's Config.Threads (below).
//
// No lock is held across a request. (gobreaker's DistributedCircuitBreaker
// takes a store-wide mutex around Execute, the request included, because it
// reads, runs and writes back the whole breaker, counts and all; a fleet
// then sends one request at a time. redisguard shares only the openings and
// their end, and every change is a single atomic script.)
//
// # Thread permits
//
// The account's threads are the fleet's: a task accepted through one
// process holds a thread that every process must count, and any process
// may see it end. Threads keeps the permits out as members of two sorted
// sets, submits under way by a token and tasks in flight by task id, each
// scored by when it expires (the ttl of a submit, the ceiling of a task),
// the same members again in two sets per task type, and the capacity the
// fleet learned for each type in a hash. NO_SLOT is per worker pool, so
// the capacity is learned per type (at most 32 types; later ones share
// the untyped entry), and the Transport's plan is the key's total. Every
// call (Acquire, Accepted, Release, NoSlot, Done) is one Lua script that
// drops the expired members first, then counts and changes; no lock is
// held across a request. Acquire admits while the type's permits out are
// fewer than its capacity plus the Transport's overbook, and with a plan
// the key's are fewer than the plan plus the overbook; otherwise it waits
// for the soonest expiry, or Config.Poll at most, and asks again. A
// process's waiters of one type ask one at a time, in arrival order, and a
// permit it frees wakes the first waiter of each type at once; a permit another process frees is seen at the
// next ask, and across processes waiters go in no particular order. Done
// from any process ends the task's lease, once.
//
// When Redis is down, the calls fail as the others do (one Timeout, then
// the back-off), and slotguard's Transport takes its local permit for
// that submit. What a failed call would have written is lost: a task
// whose Accepted failed is missing from the fleet's count for as long as
// it runs, a permit whose Release failed holds until its ttl, and a lease
// whose Done failed until its ceiling. When Redis loses its state, the permits, leases and
// capacity go with it: the provider's threads stay held by tasks the fleet
// no longer counts, and the capacity is relearned from 1 (from the plan,
// when the Transport has one), at the cost of some
// NO_SLOT answers, which lower it to the tasks Redis knows of.
//
// # Time
//
// Every window is measured on the Redis server's clock (TIME inside the
// scripts), so the clocks of the fleet's machines never need to agree. The
// one time that comes from a process, an opening's end, is sent as a
// duration from now and turned into the server's time by the script; only
// the call's latency is lost.
//
// # When Redis is down or slow
//
// Every Redis call is bounded by Config.Timeout (0: 50 ms) under the
// request's context, and returns an error when the time is up: nothing
// hangs, nothing panics. slotguard's Transport then falls back to its local
// limits for that attempt and logs it once per outage. The bound holds only
// when go-redis honours context deadlines on the socket, so New refuses a
// client whose Options.ContextTimeoutEnabled is false.
//
// After a failed call, the Fleet's pacer, budget, breaker and threads skip Redis for
// Config.Backoff (0: 1 s): their calls return an *Error matching ErrBackoff
// at once, and then one call tries Redis again. An outage so costs one
// Timeout per Backoff per process, not three per submit (Allow, Admit and
// Wait): BenchmarkSubmitRedisDown measures it (BENCHMARKS.md). A Redis that
// flaps faster than Backoff is one outage to the Transport. A longer
// Backoff keeps the fleet on its local limits for longer after Redis is
// back; a shorter one pays the Timeout more often while it is down.
//
// # When Redis loses its state
//
// A Redis that restarts without its data, or a failover to a replica that
// has none, would forget the fleet's budget and openings while the provider
// remembers them: the fleet would send a second line's worth of NO_SLOT
// answers within the minute, and forget a 10-minute ERROR: 1001. One more
// key, the fleet's epoch, tells: its absence means the state was lost (or
// the key is new, or was quiet for a day). The first call that finds it
// missing begins a new epoch, and
//
//   - the budget's lines ramp up from 0 over their window (the NO_SLOT line
//     over a minute, the k-th of 110 at k/110 of it), as though the window
//     had been full when the state was lost;
//   - each process that holds an opening (the latest it saw or made, until
//     its end: the key's, and each type's for the first 32 types it meets)
//     writes it back at its next Allow, which asks Redis once a
//     second while it refuses from its copy: the later end wins. An Open
//     that failed, or was skipped in a back-off, is written back the same
//     way once Redis answers. slotguard's Transport calls Allow only while
//     its own breaker is closed, so the processes that saw the opening write
//     it back through Allow; the one whose own breaker holds it (it got the
//     ban answer) writes it back through Open, which its Transport calls
//     again at most once a second while the opening refuses its submits.
//
// The pacer's schedule needs nothing of the kind: losing it costs one burst
// at most.
//
// A new fleet ramps up too: redisguard cannot tell it from a lost state.
// The lines count NO_SLOT answers and attempts in flight, not accepted
// ones: at 2 attempts a second the ramp holds the first attempt about half
// a second, and after that only NO_SLOT answers coming faster than 110 a
// minute.
//
// What Redis should keep, then:
//
//   - AOF (appendonly yes, appendfsync everysec) is the setting to run: a
//     restart loses at most the last second or so of writes, the epoch
//     survives and nothing ramps. A second of answers is within the margin
//     of the NO_SLOT line (110 of the provider's 120).
//   - RDB snapshots alone are the setting to avoid: a restart brings back a
//     snapshot minutes old, epoch included, and redisguard cannot tell that
//     the answers since were forgotten. Turn AOF on beside them, or
//     persistence off.
//   - Without persistence a restart comes back empty: the loss is seen, the
//     lines ramp up over their window (the fleet admits slowly meanwhile),
//     and an opening survives if a process that holds it submits before its
//     end.
//   - Replication is asynchronous: a promoted replica misses the master's
//     last writes, as AOF does its last second. A master without
//     persistence that restarts empty empties its replicas too; that is
//     seen.
//   - Eviction must not take these keys: run with maxmemory-policy
//     noeviction (the default), or a Redis of their own. Every key has a
//     TTL, so a volatile-* policy would evict them first.
//
// During an outage the fleet's limits are the sum of its processes' local
// ones, so keep each process's slotguard.Config at a safe share (for 40
// processes, Rate: 0.05 and Budget.NoSlotPerMinute: 2, say) if a Redis
// outage must not raise the fleet's pace.
//
// # Processes that die
//
// A process that dies mid-attempt holds one unit of the NO_SLOT budget until
// Config.Pending (2 minutes) passes; a probe whose outcome never comes (the
// process died) holds the fleet's breaker for Config.ProbeTimeout (30 s),
// then another process probes. Its thread permits hold until their ttl
// (a submit under way) or their ceiling (a task whose end no process
// sees), as the Transport gave them.
//
// # Testing
//
// The tests start a redis-server of their own on a free loopback port per
// test (Debian: apt-get install redis-server), or use the one at
// SLOTGUARD_REDIS_ADDR; package redistest does the same for your own
// fleet's tests (redistest.Addr(t)). Without redis-server the tests skip,
// except under CI=true, where they fail. Config.TimeScale compresses the
// windows for simulations against captchaaitest at the same scale, as
// cmd/slotbench -fleet does. What the shared parts cost per attempt is in
// BENCHMARKS.md at the repository root.
//
// # Keys
//
// Keys are Prefix + ":{" + the first 16 hex digits of the API key's SHA-256
// + "}:" + a name (pacer, noslot, pending, submits, open, tripped, probe,
// epoch, threads:leases, threads:pending, threads:cap, threads:types,
// threads:type:TYPE:leases and :pending); the API key itself
// is never stored nor logged. The breaker's names: open, tripped and probe
// are the key's breaker (bans); open:T, tripped:T and probe:T type T's (T
// a slotguard.TaskType of at most 64 bytes), for at most 32 types at once;
// open:, tripped: and probe: the untyped one (no type known, a longer
// name, or past 32 types); types, a sorted set of the types that have
// their own, scored by when their tripped key expires. The braces are a
// Redis Cluster hash tag: every key of one API key lives in one slot, as
// the Lua scripts need. Every key expires on its own when the fleet goes
// quiet (the epoch and the threads' learned capacity after a day). Redis 6.0 or later (KEEPTTL); the scripts
// that read TIME ask for effects replication (redis.replicate_commands),
// so they work where lua-replicate-commands is off.
package redisguard
