// Package redisguard keeps the state that processes sharing one API key must
// share in Redis: one pacer, one ban budget and one breaker for a whole
// fleet. Plug it into slotguard through Config.Shared:
//
//	fleet, err := redisguard.New(rdb, apiKey, redisguard.Config{Rate: 2})
//	...
//	t, err := slotguard.New(nil, slotguard.Config{Shared: fleet.Shared()})
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
//   - Breaker: the open state is a key that expires at the opening's end;
//     a second key remembers that the fleet tripped, so that after the end
//     exactly one probe (a SET NX key with a bounded TTL) goes through for
//     the whole fleet, and a probe whose answer proved nothing is released
//     at once for the next. Each transition is one Lua script.
//
// No lock is held across a request. (gobreaker's DistributedCircuitBreaker
// takes a store-wide mutex around Execute, the request included, because it
// reads, runs and writes back the whole breaker, counts and all; a fleet
// then sends one request at a time. redisguard shares only the openings and
// their end, and every change is a single atomic script.)
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
// After a failed call, the Fleet's pacer, budget and breaker skip Redis for
// Config.Backoff (0: 1 s): their calls return an *Error matching ErrBackoff
// at once, and then one call tries Redis again. An outage so costs one
// Timeout per Backoff per process, not one per call: with Redis killed a
// submit cost 152 ms (Allow, Admit and Wait at 50 ms each), and costs about
// 10 µs now (BenchmarkSubmitRedisDown; 2.5 µs without a Fleet), but for the
// one per second whose call tries Redis and pays the 50 ms. A Redis that
// flaps faster than Backoff is one outage to the Transport. A longer
// Backoff keeps the fleet on its local limits for longer after Redis is
// back; a shorter one pays the Timeout more often while it is down.
//
// # Keys
//
// Keys are Prefix + ":{" + the first 16 hex digits of the API key's SHA-256
// + "}:" + a name (pacer, noslot, pending, submits, open, tripped, probe);
// the API key itself is never stored nor logged. The braces are a Redis
// Cluster hash tag: every key of one API key lives in one slot, as the Lua
// scripts need. Every key expires on its own when the fleet goes quiet.
// Redis 6.0 or later (KEEPTTL); the scripts that read TIME ask for effects
// replication (redis.replicate_commands), so they work where
// lua-replicate-commands is off.
package redisguard
