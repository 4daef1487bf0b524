package redisguard

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// luaThreads starts every script of Threads, after luaNow: KEYS[1] the
// leases, KEYS[2] the submits under way (the key's, every type's), KEYS[3]
// the learned state, KEYS[4] the set of task types seen. It drops the
// expired members, and defines keep, which makes a set expire with its
// last member; kind, which names a type's own two sets (its leases and its
// submits under way, under the same hash tag) and drops their expired
// members; and learned and learn, which read and write a type's capacity
// and the rest of its learned state (def when there is none). The untyped
// entry's fields are the names alone (capacity, growth, lastNoSlot); a
// type's add ":" and the type.
var luaThreads = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local function keep(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, math.ceil((tonumber(last[2]) - now) / 1000) + 1000)
  end
end
local function kind(prefix, typ, keepMs)
  if typ ~= '' and redis.call('SISMEMBER', KEYS[4], typ) == 0 then
    if redis.call('SCARD', KEYS[4]) >= ` + strconv.Itoa(maxTypes) + ` then
      typ = ''
    else
      redis.call('SADD', KEYS[4], typ)
      redis.call('PEXPIRE', KEYS[4], keepMs)
    end
  end
  local leases, pending = prefix .. typ .. ':leases', prefix .. typ .. ':pending'
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now)
  local sfx = ''
  if typ ~= '' then sfx = ':' .. typ end
  return leases, pending, sfx
end
local function learned(def, sfx)
  local f = redis.call('HMGET', KEYS[3], 'capacity' .. sfx, 'growth' .. sfx, 'lastNoSlot' .. sfx)
  return tonumber(f[1]) or def, tonumber(f[2]) or 0, tonumber(f[3])
end
local function learn(capacity, growth, keepMs, sfx)
  redis.call('HSET', KEYS[3], 'capacity' .. sfx, capacity, 'growth' .. sfx, growth)
  redis.call('PEXPIRE', KEYS[3], keepMs)
  redis.call('PEXPIRE', KEYS[4], keepMs)
end
`

// threadsAcquireScript: ARGV[1] the types' key prefix, ARGV[2] the type,
// ARGV[3] the token, ARGV[4] the overbook, ARGV[5] the ttl in µs, ARGV[6]
// the plan (0: none), ARGV[7] how long the learned state lives, in ms. It
// returns {1} when the permit is taken, or {0, wait}: µs until the soonest
// member that holds it up expires.
var threadsAcquireScript = redis.NewScript(luaNow + luaThreads + `
local tl, tp, sfx = kind(ARGV[1], ARGV[2], ARGV[7])
local plan, over = tonumber(ARGV[6]), tonumber(ARGV[4])
local capacity = learned(math.max(plan, 1), sfx)
if plan > 0 and capacity > plan then
  capacity = plan
end
local out = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local typed = redis.call('ZCARD', tl) + redis.call('ZCARD', tp)
if typed < capacity + over and (plan == 0 or out < plan + over) then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[3])
  redis.call('ZADD', tp, now + tonumber(ARGV[5]), ARGV[3])
  keep(KEYS[2])
  keep(tp)
  return {1}
end
local wait = -1
for _, key in ipairs({KEYS[1], KEYS[2], tl, tp}) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then
    local w = tonumber(first[2]) - now
    if wait < 0 or w < wait then wait = w end
  end
end
return {0, wait}
`)

// threadsAcceptedScript: ARGV[1] the types' key prefix, ARGV[2] the type,
// ARGV[3] the token, ARGV[4] the task id, ARGV[5] the ceiling in µs,
// ARGV[6] the plan (0: none), ARGV[7] quiet in µs, ARGV[8] how long the
// learned state lives, in ms. It returns {capacity}: the type's.
var threadsAcceptedScript = redis.NewScript(luaNow + luaThreads + `
local tl, tp, sfx = kind(ARGV[1], ARGV[2], ARGV[8])
local plan, quiet = tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', tp, ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[4])
redis.call('ZADD', tl, now + tonumber(ARGV[5]), ARGV[4])
keep(KEYS[1])
keep(tl)
local capacity, growth, last = learned(math.max(plan, 1), sfx)
if plan > 0 and capacity > plan then
  capacity = plan
end
if redis.call('ZCARD', tl) > capacity and (plan == 0 or capacity < plan) then
  local slow = last and now - last < quiet
  if slow then
    growth = growth + 1 / capacity
  end
  if not slow or growth >= 1 then
    capacity, growth = capacity + 1, 0
  end
end
learn(capacity, growth, ARGV[8], sfx)
return {capacity}
`)

// threadsReleaseScript: ARGV[1] the types' key prefix, ARGV[2] the type,
// ARGV[3] the token, ARGV[4] 0, or the ceiling in µs of the anonymous
// lease it becomes, ARGV[5] how long the learned state lives, in ms.
var threadsReleaseScript = redis.NewScript(luaNow + luaThreads + `
local tl, tp = kind(ARGV[1], ARGV[2], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', tp, ARGV[3])
local ceiling = tonumber(ARGV[4])
if ceiling > 0 then
  redis.call('ZADD', KEYS[1], now + ceiling, '?' .. ARGV[3])
  redis.call('ZADD', tl, now + ceiling, '?' .. ARGV[3])
  keep(KEYS[1])
  keep(tl)
end
return {1}
`)

// threadsNoSlotScript: ARGV[1] the types' key prefix, ARGV[2] the type,
// ARGV[3] how long the learned state lives, in ms, ARGV[4] the plan (0:
// none). It returns {1} for a probe (the type's tasks fill its capacity,
// or the key's fill the plan), {0} otherwise. A probe leaves the capacity
// as it was, or unset: the first Accepted may still set it to the plan.
var threadsNoSlotScript = redis.NewScript(luaNow + luaThreads + `
local tl, tp, sfx = kind(ARGV[1], ARGV[2], ARGV[3])
local plan = tonumber(ARGV[4])
local tasks = redis.call('ZCARD', tl)
local capacity = learned(1, sfx)
redis.call('HSET', KEYS[3], 'lastNoSlot' .. sfx, now)
if tasks >= capacity or plan > 0 and redis.call('ZCARD', KEYS[1]) >= plan then
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {1}
end
learn(math.max(tasks, 1), 0, ARGV[3], sfx)
return {0}
`)

// threadsDoneScript: ARGV[1] the types' key prefix, ARGV[2] the task id.
// It returns {1} when the lease was there, {0} otherwise. The lease's type
// is not known here: it goes from every type's set.
var threadsDoneScript = redis.NewScript(luaNow + luaThreads + `
local found = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', ARGV[1] .. ':leases', ARGV[2])
for _, typ in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('ZREM', ARGV[1] .. typ .. ':leases', ARGV[2])
end
return {found}
`)

// threadsUsageScript returns {tasks, submits, capacity}: the key's, the
// capacity the sum of the types' (1 before any is learned).
var threadsUsageScript = redis.NewScript(luaNow + luaThreads + `
local f = redis.call('HGETALL', KEYS[3])
local capacity, seen = 0, false
for i = 1, #f, 2 do
  if f[i] == 'capacity' or string.sub(f[i], 1, 9) == 'capacity:' then
    capacity, seen = capacity + tonumber(f[i + 1]), true
  end
end
if not seen then capacity = 1 end
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), capacity}
`)
