package redisguard

import (
	"cmp"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
)

// Budget keeps the whole fleet's submit attempts under the provider's ban
// lines (see Config.Budget). It implements slotguard.Budget.
//
// Three sorted sets per API key, scored on the Redis server's clock in
// microseconds: noslot (NO_SLOT answers, and attempts whose answer was
// lost, kept a minute), submits (attempts admitted, kept 3 s) and pending
// (attempts admitted and not yet Done, scored by when they stop counting:
// Config.Pending after admission). Admit is one Lua script that drops the
// old entries, checks NO_SLOT + pending < NoSlotPerMinute and submits <
// SubmitsPer3s, and on room adds one pending and one submit entry,
// atomically: 40 processes admitting at once cannot overshoot. Done is one
// script that removes a pending entry and, for a NO_SLOT answer or a lost
// one (slotguard.OutcomeLost: the provider may have answered NO_SLOT),
// adds a noslot one.
//
// When Redis has lost the fleet's state (see the package doc), the sets
// are empty but the provider still counts the answers of the last minute.
// Admit then assumes the window was full, its answers spread over it as a
// fleet at the line spreads them, and lets each line ramp up from 0 over
// one window: k of the NO_SLOT line's 110 at k/110 of a minute after the
// state was found lost, as the answers that Redis forgot leave the
// provider's window. (Issue 11: without it a restart at the line let the
// fleet send 220 more attempts within 425 ms.)
//
// slotguard.Budget's Done does not say which admission it ends; a Budget
// keeps its own admitted entries, oldest first, and Done ends the oldest.
// Pending entries only count, so which one goes makes no difference, and
// the oldest would stop counting first anyway.
type Budget struct {
	l          *link
	keys       []string // noslot, pending, submits, epoch
	window     int64    // microseconds: the NO_SLOT window
	swindow    int64    // microseconds: the submit window
	pendingFor int64    // microseconds
	noSlotLine int64    // -1: off
	submitLine int64    // -1: off
	poll       time.Duration

	id  string
	seq atomic.Uint64

	mu       sync.Mutex
	admitted []string // members admitted here and not yet Done, oldest first
}

func newBudget(l *link, base string, cfg *Config) *Budget {
	line := func(n, def int) int64 {
		n = cmp.Or(n, def)
		if n == slotguard.Unlimited {
			return -1
		}
		return int64(n)
	}
	return &Budget{
		l:          l,
		keys:       []string{base + "noslot", base + "pending", base + "submits", base + "epoch"},
		window:     cfg.scaled(time.Minute).Microseconds(),
		swindow:    cfg.scaled(3 * time.Second).Microseconds(),
		pendingFor: cfg.scaled(cmp.Or(cfg.Pending, defaultPending)).Microseconds(),
		noSlotLine: line(cfg.Budget.NoSlotPerMinute, defaultNoSlotLine),
		submitLine: line(cfg.Budget.SubmitsPer3s, defaultSubmitLine),
		poll:       cmp.Or(cfg.Poll, defaultPoll),
		id:         newID(),
	}
}

// admitScript returns {1} when admitted, or {0, wait}: microseconds until
// the oldest counted entry leaves its window or a ramping line grows, -1
// when only answers to attempts in flight can make room.
var admitScript = redis.NewScript(luaNow + `
local ekey = KEYS[4]
` + luaEpoch + `
local window, swindow, pending = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local noSlotLine, submitLine = tonumber(ARGV[5]), tonumber(ARGV[6])
local since = now - tonumber(epoch)
-- line is full's value now: full ramps up from 0 over window w after the
-- epoch began; grow is how long until it passes count (-1: it will not).
local function line(full, w, count)
  if full < 0 or since >= w then
    return full, -1
  end
  local grow = -1
  if count < full then
    grow = math.ceil((count + 1) * w / full) - since
  end
  return math.floor(full * since / w), grow
end
-- sooner is the sooner of two waits, -1 meaning none.
local function sooner(a, b)
  if a < 0 or (b >= 0 and b < a) then return b end
  return a
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - swindow)
if noSlotLine >= 0 then
  local n = redis.call('ZCARD', KEYS[1])
  local p = redis.call('ZCARD', KEYS[2])
  local l, wait = line(noSlotLine, window, n + p)
  if n + p >= l then
    if n > 0 then
      local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
      wait = sooner(wait, tonumber(oldest[2]) + window - now)
    end
    if p > 0 then
      local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
      wait = sooner(wait, tonumber(oldest[2]) - now)
    end
    return {0, math.max(wait, 1)}
  end
end
if submitLine >= 0 then
  local s = redis.call('ZCARD', KEYS[3])
  local l, wait = line(submitLine, swindow, s)
  if s >= l then
    if s > 0 then
      local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
      wait = sooner(wait, tonumber(oldest[2]) + swindow - now)
    end
    return {0, math.max(wait, 1)}
  end
end
redis.call('ZADD', KEYS[2], now + pending, ARGV[1])
redis.call('PEXPIRE', KEYS[2], math.ceil(pending / 1000) + 1000)
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('PEXPIRE', KEYS[3], math.ceil(swindow / 1000) + 1000)
return {1}
`)

// doneScript ends an admission: ARGV[1] the member, ARGV[2] "1" for a
// NO_SLOT answer or a lost one, which the provider counts from now.
var doneScript = redis.NewScript(luaNow + `
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  local window = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
end
return 1
`)

// Admit implements slotguard.Budget: it blocks until one more attempt fits
// under every line of the fleet, or ctx ends (then it returns ctx.Err()).
// Near a line it sleeps until the oldest counted entry leaves its window,
// or Config.Poll at most when room can come from an answer. Each check is
// one Redis call bounded by Config.Timeout; a failed call is an *Error at
// once, and so is every call for Config.Backoff after.
func (b *Budget) Admit(ctx context.Context) error {
	member := b.id + ":" + strconv.FormatUint(b.seq.Add(1), 36)
	for {
		res, err := b.l.ints(ctx, "budget admit", admitScript, b.keys, 1, member,
			b.window, b.swindow, b.pendingFor, b.noSlotLine, b.submitLine)
		if err != nil {
			return err
		}
		if res[0] == 1 {
			b.mu.Lock()
			b.admitted = append(b.admitted, member)
			b.mu.Unlock()
			return nil
		}
		wait := b.poll
		if len(res) > 1 && res[1] > 0 {
			wait = min(wait, time.Duration(res[1])*time.Microsecond)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Done implements slotguard.Budget. It records the outcome even when ctx
// has ended (a cancelled request's attempt still left its mark at the
// provider), within Config.Timeout. A NO_SLOT answer counts for a minute,
// and so does a lost one (slotguard.OutcomeLost): the provider counted the
// attempt, maybe as a NO_SLOT. When the call fails, or is skipped in a
// back-off (Config.Backoff), the attempt keeps counting as a possible
// NO_SLOT for Config.Pending.
func (b *Budget) Done(ctx context.Context, o slotguard.Outcome) {
	b.mu.Lock()
	if len(b.admitted) == 0 {
		b.mu.Unlock()
		return
	}
	member := b.admitted[0]
	b.admitted[0] = ""
	b.admitted = b.admitted[1:]
	b.mu.Unlock()
	noSlot := "0"
	if o == slotguard.OutcomeNoSlot || o == slotguard.OutcomeLost {
		noSlot = "1"
	}
	b.l.run(context.WithoutCancel(ctx), "budget done", doneScript, b.keys[:3], member, noSlot, b.window)
}

// Usage is what the fleet's budget counts now.
type Usage struct {
	NoSlot  int // NO_SLOT answers (and lost ones) in the last minute
	Pending int // attempts admitted and not yet Done
	Submits int // attempts admitted in the last 3 seconds
}

var usageScript = redis.NewScript(luaNow + `
local window, swindow = tonumber(ARGV[1]), tonumber(ARGV[2])
return {
  redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf'),
  redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf'),
  redis.call('ZCOUNT', KEYS[3], '(' .. (now - swindow), '+inf'),
}
`)

// Usage reports what the fleet's budget counts now, for dashboards.
func (b *Budget) Usage(ctx context.Context) (Usage, error) {
	res, err := b.l.ints(ctx, "budget usage", usageScript, b.keys[:3], 3, b.window, b.swindow)
	if err != nil {
		return Usage{}, err
	}
	return Usage{NoSlot: int(res[0]), Pending: int(res[1]), Submits: int(res[2])}, nil
}
