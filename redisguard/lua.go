package redisguard

import (
	"strconv"
	"time"
)

// luaNow sets now to the server's time in microseconds: every window is
// measured on it, so the machines' clocks never need to agree. A script
// that reads TIME and then writes must be replicated by its effects, not
// re-run on the replicas (where TIME differs): Redis 7 always does that,
// Redis 5 and 6 do it unless lua-replicate-commands is off, and
// redis.replicate_commands() turns it on for this script (a no-op on 7).
// So every script that reads TIME starts with luaNow.
const luaNow = `redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// luaEpoch sets epoch to the fleet's epoch: the server time (µs, as a
// string) at which the state now in Redis began. The epoch key has no
// other content; when it is missing, Redis has lost the fleet's state (a
// restart without persistence, a failover to an empty replica, eviction)
// or the fleet is new or was quiet for epochTTL: the script that notices
// begins a new epoch, now. The budget then ramps its lines up over one
// window, and each process that still holds an opening writes it back
// (see Budget and Breaker). It wants now (luaNow) and ekey (the epoch
// key). The calls that read it keep it alive, with a write once an hour at
// most (a write goes to the AOF and the replicas).
var luaEpoch = `
local epoch = redis.call('GET', ekey)
if epoch then
  if redis.call('PTTL', ekey) < ` + ms(epochTTL-time.Hour) + ` then
    redis.call('PEXPIRE', ekey, ` + ms(epochTTL) + `)
  end
else
  epoch = string.format('%d', now)
  redis.call('SET', ekey, epoch, 'PX', ` + ms(epochTTL) + `)
end
`

// epochTTL is how long the epoch outlives the fleet's last call: longer
// than any state it vouches for (a minute of NO_SLOT answers, Pending, an
// opening and its hour of tripped), so that it is gone only when that
// state is gone too, or was lost.
const epochTTL = 24 * time.Hour

// ms is d in milliseconds, for a script's source.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
