package redisguard

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
)

// Breaker shares the breaker's openings across the fleet. It implements
// slotguard.SharedBreaker: each process still runs its own breaker, and
// this one carries an opening (a run of NO_SLOT answers, or a ban) to all.
//
// Three keys per API key. open holds the opening's code and expires at its
// end (PX). tripped holds "generation|code" while the fleet has not seen a
// probe accepted since the opening (with a bounded TTL, the open period plus
// an hour, so a fleet that goes quiet mid-outage does not leave it behind).
// probe is taken with SET NX PX Config.ProbeTimeout by the one process whose
// submit probes. Allow is one script: open → refuse; tripped and no probe
// → take the probe; tripped and a probe out → refuse; otherwise allow.
// Open, Close and Release are one script each. No lock is held across a
// request.
//
// While open, Allow refuses from a local copy of the opening's end, with
// no round trip: an opening only ever grows until its end (a later opening
// wins), and it can only be closed by a probe, which comes after the end.
// (A key deleted by hand is seen at the end of the copy's open period.)
type Breaker struct {
	l            *link
	keys         []string // open, tripped, probe
	probeTimeout time.Duration
	tripFor      time.Duration // how much longer than the opening tripped lives

	id  string // this process, in probe tokens
	seq atomic.Uint64

	mu    sync.Mutex
	until time.Time // local copy of the fleet's opening's end
	code  string
	gen   string // the generation this process probes, "" when none
	token string // its probe's token
}

func newBreaker(l *link, base string, cfg *Config) *Breaker {
	return &Breaker{
		l:            l,
		keys:         []string{base + "open", base + "tripped", base + "probe"},
		probeTimeout: cfg.scaled(cmp.Or(cfg.ProbeTimeout, defaultProbeTimeout)),
		tripFor:      cfg.scaled(time.Hour),
		id:           newID(),
	}
}

// newToken returns a token no other call of the fleet uses.
func (b *Breaker) newToken() string {
	return b.id + "." + strconv.FormatUint(b.seq.Add(1), 36)
}

// allowScript: ARGV[1] ProbeTimeout in ms, ARGV[2] a probe token. It
// returns {0, code, ms}: open for ms more ms (-1: a probe is out); {1}:
// closed; {2, generation|code}: this submit is the probe.
var allowScript = redis.NewScript(`
local code = redis.call('GET', KEYS[1])
if code then
  return {0, code, redis.call('PTTL', KEYS[1])}
end
local tripped = redis.call('GET', KEYS[2])
if not tripped then
  return {1}
end
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return {2, tripped}
end
local gen = string.match(tripped, '^[^|]*')
return {0, string.sub(tripped, #gen + 2), -1}
`)

// Allow implements slotguard.SharedBreaker: nil while the fleet's breaker
// is closed; probe true for the one submit of the fleet that probes after
// an opening; an *slotguard.OpenError (matching slotguard.ErrCircuitOpen)
// otherwise. One Redis call bounded by Config.Timeout, none while the
// opening's end, as last seen, is ahead.
func (b *Breaker) Allow(ctx context.Context) (probe bool, err error) {
	now := time.Now()
	b.mu.Lock()
	until, code := b.until, b.code
	b.mu.Unlock()
	if now.Before(until) {
		return false, &slotguard.OpenError{Code: code, Until: until}
	}
	token := b.newToken()
	cmd, err := b.l.run(ctx, "breaker allow", allowScript, b.keys, b.probeTimeout.Milliseconds(), token)
	if err != nil {
		return false, err
	}
	res, err := cmd.Slice()
	if err != nil || len(res) == 0 {
		return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v (%v)", res, err)}
	}
	state, _ := res[0].(int64)
	switch {
	case state == 1:
		return false, nil
	case state == 2 && len(res) == 2:
		gen, _, _ := strings.Cut(fmt.Sprint(res[1]), "|")
		b.mu.Lock()
		b.gen, b.token = gen, token
		b.mu.Unlock()
		return true, nil
	case state == 0 && len(res) == 3:
		code, _ := res[1].(string)
		ms, _ := res[2].(int64)
		if ms <= 0 {
			return false, &slotguard.OpenError{Code: code}
		}
		until := now.Add(time.Duration(ms) * time.Millisecond)
		b.mu.Lock()
		b.until, b.code = until, code
		b.mu.Unlock()
		return false, &slotguard.OpenError{Code: code, Until: until}
	}
	return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v", res)}
}

// openScript: ARGV[1] the opening's length in ms, ARGV[2] its code,
// ARGV[3] a new generation, ARGV[4] how long tripped outlives it in ms.
var openScript = redis.NewScript(`
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) >= ms then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ms)
redis.call('SET', KEYS[2], ARGV[3] .. '|' .. ARGV[2], 'PX', ms + tonumber(ARGV[4]))
redis.call('DEL', KEYS[3])
return 1
`)

// Open implements slotguard.SharedBreaker: it opens the fleet's breaker
// until until, naming the provider's ban code ("" for a run of NO_SLOT
// answers); a later opening already in Redis wins. It is recorded even
// when ctx has ended (within Config.Timeout), as Close is. until is sent as a
// duration from now, so that the machines' clocks need not agree. Opening
// again ends the fleet's probe, if one is out: the next probe comes after
// the new end.
func (b *Breaker) Open(ctx context.Context, until time.Time, code string) error {
	d := time.Until(until)
	if d < time.Millisecond {
		return nil
	}
	// The answer that opens has been read: record it even if the
	// request's context has just ended.
	ctx = context.WithoutCancel(ctx)
	_, err := b.l.run(ctx, "breaker open", openScript, b.keys, d.Milliseconds(), code, newID(), b.tripFor.Milliseconds())
	return err
}

// closeScript: ARGV[1] the generation the probe was taken in, "" for any.
// A probe of an opening since superseded closes nothing.
var closeScript = redis.NewScript(`
if ARGV[1] ~= '' then
  local tripped = redis.call('GET', KEYS[2])
  if tripped and string.match(tripped, '^[^|]*') ~= ARGV[1] then
    return 0
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
`)

// Close implements slotguard.SharedBreaker: after this process's probe was
// accepted it closes the fleet's breaker, unless a newer opening came
// meanwhile (another process's ban answer), which stands.
func (b *Breaker) Close(ctx context.Context) error {
	gen, _ := b.endProbe()
	b.mu.Lock()
	b.until = time.Time{}
	b.mu.Unlock()
	ctx = context.WithoutCancel(ctx) // as in Open
	_, err := b.l.run(ctx, "breaker close", closeScript, b.keys, gen)
	return err
}

// endProbe returns the generation and token of this process's probe, ""
// when none, and forgets them: a probe's outcome is reported once.
func (b *Breaker) endProbe() (gen, token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	gen, token = b.gen, b.token
	b.gen, b.token = "", ""
	return gen, token
}

// releaseScript ends the probe whose token is ARGV[1], if it is still out.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Release ends a probe whose answer proved nothing either way (neither
// accepted, NO_SLOT nor a ban): the breaker stays as it was, and the next
// submit of the fleet may probe at once, rather than after
// Config.ProbeTimeout. It does nothing unless this process holds the
// fleet's probe; a probe that timed out and went to another process stays
// that process's.
func (b *Breaker) Release(ctx context.Context) error {
	_, token := b.endProbe()
	if token == "" {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // as in Open
	_, err := b.l.run(ctx, "breaker release", releaseScript, b.keys[2:3], token)
	return err
}
