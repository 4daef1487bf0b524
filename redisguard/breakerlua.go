package redisguard

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The breaker's scripts. Every one but Release takes the same eleven keys
// (Breaker.keys), so that one script reaches the key's breaker, the type's
// and the untyped one, all under the API key's hash tag:
//
//	KEYS[1] epoch    KEYS[2] types (sorted set)
//	KEYS[3] open     KEYS[4] tripped     KEYS[5] probe      the key's (bans)
//	KEYS[6] open:T   KEYS[7] tripped:T   KEYS[8] probe:T    type T's
//	KEYS[9] open:    KEYS[10] tripped:   KEYS[11] probe:    the untyped one
//
// and ARGV[1] the type T ("" for the untyped: KEYS[6..8] are KEYS[9..11]).
// An entry is named by the index of its open key: 3, 6 or 9.

// maxTypes bounds the task types whose breakers and thread permits Redis
// keeps apart, as slotguard's Transport bounds its own: past it, a type's
// NO_SLOT opening goes to the untyped breaker and its permits to the
// untyped entry, so that random method names cannot grow Redis without
// bound.
const maxTypes = 32

// maxTypeLen bounds a type's name in a key: a longer one is the untyped.
const maxTypeLen = 64

// luaPlace defines place(typ, add): the entry of typ's NO_SLOT openings. 6,
// its own, when typ is in the types set (which holds each type with an
// entry, scored by when its tripped key expires, in µs of server time), or
// when add and the set has room (the caller adds it); 9, the untyped, for
// "" and when the set is full; nil when typ has no entry and add is false.
// It wants now (luaNow).
var luaPlace = `
local function place(typ, add)
  if typ == '' then
    return 9
  end
  local s = redis.call('ZSCORE', KEYS[2], typ)
  if s and tonumber(s) > now then
    return 6
  end
  if redis.call('ZCOUNT', KEYS[2], string.format('(%d', now), '+inf') >= ` + strconv.Itoa(maxTypes) + ` then
    return 9
  end
  if add then
    return 6
  end
  return nil
end
`

// luaOpen defines open(i, ms, code, gen, tripFor): it opens entry i for ms
// ms with code, in generation gen, unless a later opening stands; tripped
// outlives it by tripFor ms. A type's own entry (6) goes in the types set
// until its tripped key expires. It wants now and place.
const luaOpen = `
local function open(i, ms, code, gen, tripFor)
  if redis.call('PTTL', KEYS[i]) >= ms then
    return 0
  end
  redis.call('SET', KEYS[i], code, 'PX', ms)
  redis.call('SET', KEYS[i+1], gen .. '|' .. code, 'PX', ms + tripFor)
  redis.call('DEL', KEYS[i+2])
  if i == 6 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    redis.call('ZADD', KEYS[2], now + (ms + tripFor) * 1000, ARGV[1])
    if redis.call('PTTL', KEYS[2]) < ms + tripFor then
      redis.call('PEXPIRE', KEYS[2], ms + tripFor)
    end
  end
  return 1
end

-- entry is where an opening with code goes: the key's for a ban, the
-- type's for a run of NO_SLOT answers.
local function entry(code)
  if code ~= '' then
    return 3
  end
  return place(ARGV[1], true)
end
`

// allowScript: ARGV[2] ProbeTimeout in ms, ARGV[3] a probe token, ARGV[4]
// the epoch the caller's opening was held in; ARGV[5] > 0 when the caller
// refuses from its copy of an opening, which has ARGV[5] ms left, code
// ARGV[6]; ARGV[7] a generation for writing it back, ARGV[8] tripFor in
// ms. The key's breaker is asked first, then the type's. It returns
// {epoch, 0, code, ms, entry}: open for ms more ms (-1: a probe is out);
// {epoch, 1}: closed; {epoch, 2, generation|code, entry}: this submit is
// the entry's probe. A caller with an opening of its own writes it back
// when the epoch is not the one it was held in, and never takes a probe.
var allowScript = redis.NewScript(luaNow + `
local ekey = KEYS[1]
` + luaEpoch + luaPlace + luaOpen + `
local rest = tonumber(ARGV[5])
if rest > 0 and epoch ~= ARGV[4] then
  open(entry(ARGV[6]), rest, ARGV[6], ARGV[7], tonumber(ARGV[8]))
end
local at = {3, place(ARGV[1], false)}
for _, i in ipairs(at) do
  local code = redis.call('GET', KEYS[i])
  if code then
    return {epoch, 0, code, redis.call('PTTL', KEYS[i]), i}
  end
end
if rest > 0 then
  return {epoch, 1}
end
for _, i in ipairs(at) do
  local tripped = redis.call('GET', KEYS[i+1])
  if tripped then
    if redis.call('SET', KEYS[i+2], ARGV[3], 'NX', 'PX', ARGV[2]) then
      return {epoch, 2, tripped, i}
    end
    local gen = string.match(tripped, '^[^|]*')
    return {epoch, 0, string.sub(tripped, #gen + 2), -1, i}
  end
end
return {epoch, 1}
`)

// openScript: ARGV[2] the opening's length in ms, ARGV[3] its code,
// ARGV[4] a new generation, ARGV[5] how long tripped outlives it in ms. It
// returns the epoch.
var openScript = redis.NewScript(luaNow + `
local ekey = KEYS[1]
` + luaEpoch + luaPlace + luaOpen + `
open(entry(ARGV[3]), tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]))
return epoch
`)

// closeScript: ARGV[2] the entry the probe was taken for (0: the type's,
// whichever it is), ARGV[3] the generation it was taken in ("" for any). A
// probe of an opening since superseded closes nothing.
var closeScript = redis.NewScript(luaNow + luaPlace + `
local i = tonumber(ARGV[2])
if i == 0 then
  i = place(ARGV[1], false)
  if not i then
    return 0
  end
end
if ARGV[3] ~= '' then
  local tripped = redis.call('GET', KEYS[i+1])
  if tripped and string.match(tripped, '^[^|]*') ~= ARGV[3] then
    return 0
  end
end
redis.call('DEL', KEYS[i], KEYS[i+1], KEYS[i+2])
if i == 6 then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
`)

// releaseScript ends the probe whose token is ARGV[1], if it is still out;
// KEYS[1] is the probe key of its entry.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
