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
// Each process remembers the latest opening it saw (Allow) or made (Open),
// and while that is ahead Allow refuses from this copy, with no round trip
// but one a second (below): an opening only ever grows until its end (a later opening wins), and it
// can only be closed by a probe, which comes after the end. (A key deleted
// by hand is seen at the end of the copy's open period.) Once a second
// (and at once when its Open did not reach Redis) such a refusing Allow
// asks Redis whether the fleet's epoch is still the one in which Redis held
// the copy: if Redis has lost its state since, or never got the opening,
// the process writes its opening back (a later end in Redis wins), so that
// processes that never saw it, or started after the loss, see it.
type Breaker struct {
	l            *link
	keys         []string // open, tripped, probe, epoch
	probeTimeout time.Duration
	tripFor      time.Duration // how much longer than the opening tripped lives
	recheck      time.Duration // how often a refusing Allow asks Redis

	id  string // this process, in probe tokens and generations
	seq atomic.Uint64

	mu      sync.Mutex
	until   time.Time // the latest opening's end, as this process knows it
	code    string
	epoch   string    // the epoch in which Redis held it; "": not known to
	checked time.Time // when a refusing Allow last asked Redis
	gen     string    // the generation this process probes, "" when none
	token   string    // its probe's token
}

// recheckEvery is how often a process that refuses from its copy of an
// opening asks Redis whether the opening is still there.
const recheckEvery = time.Second

func newBreaker(l *link, base string, cfg *Config) *Breaker {
	return &Breaker{
		l:            l,
		keys:         []string{base + "open", base + "tripped", base + "probe", base + "epoch"},
		probeTimeout: cfg.scaled(cmp.Or(cfg.ProbeTimeout, defaultProbeTimeout)),
		tripFor:      cfg.scaled(time.Hour),
		recheck:      recheckEvery,
		id:           newID(),
	}
}

// newToken returns a token no other call of the fleet uses.
func (b *Breaker) newToken() string {
	return b.id + "." + strconv.FormatUint(b.seq.Add(1), 36)
}

// luaOpen opens the breaker for ms ms with code, in generation gen,
// unless a later opening stands; tripped outlives it by tripFor ms.
const luaOpen = `
local function open(ms, code, gen, tripFor)
  if redis.call('PTTL', KEYS[1]) >= ms then
    return 0
  end
  redis.call('SET', KEYS[1], code, 'PX', ms)
  redis.call('SET', KEYS[2], gen .. '|' .. code, 'PX', ms + tripFor)
  redis.call('DEL', KEYS[3])
  return 1
end
`

// allowScript: ARGV[1] ProbeTimeout in ms, ARGV[2] a probe token, ARGV[3]
// the epoch the caller's opening was held in; ARGV[4] > 0 when the caller
// refuses from its copy of an opening, which has ARGV[4] ms left, code
// ARGV[5]; ARGV[6] a generation for writing it back, ARGV[7] tripFor in
// ms. It returns {epoch, 0, code, ms}: open for ms more ms (-1: a probe is
// out); {epoch, 1}: closed; {epoch, 2, generation|code}: this submit is
// the probe. A caller with an opening of its own writes it back when the
// epoch is not the one it was held in, and never takes the probe.
var allowScript = redis.NewScript(luaNow + `
local ekey = KEYS[4]
` + luaEpoch + luaOpen + `
local rest = tonumber(ARGV[4])
if rest > 0 and epoch ~= ARGV[3] then
  open(rest, ARGV[5], ARGV[6], tonumber(ARGV[7]))
end
local code = redis.call('GET', KEYS[1])
if code then
  return {epoch, 0, code, redis.call('PTTL', KEYS[1])}
end
local tripped = redis.call('GET', KEYS[2])
if rest > 0 or not tripped then
  return {epoch, 1}
end
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return {epoch, 2, tripped}
end
local gen = string.match(tripped, '^[^|]*')
return {epoch, 0, string.sub(tripped, #gen + 2), -1}
`)

// Allow implements slotguard.SharedBreaker: nil while the fleet's breaker
// is closed; probe true for the one submit of the fleet that probes after
// an opening; an *slotguard.OpenError (matching slotguard.ErrCircuitOpen)
// otherwise. One Redis call bounded by Config.Timeout; while the latest
// opening this process saw or made is ahead, none but one a second.
func (b *Breaker) Allow(ctx context.Context) (probe bool, err error) {
	now := time.Now()
	b.mu.Lock()
	mine := &slotguard.OpenError{Code: b.code, Until: b.until}
	epoch := b.epoch
	var rest int64 // ms left of this process's opening
	if now.Before(mine.Until) {
		if epoch != "" && now.Sub(b.checked) < b.recheck {
			b.mu.Unlock()
			return false, mine
		}
		b.checked = now
		rest = max(mine.Until.Sub(now).Milliseconds(), 1)
	}
	b.mu.Unlock()
	token := b.newToken()
	cmd, err := b.l.run(ctx, "breaker allow", allowScript, b.keys,
		b.probeTimeout.Milliseconds(), token, epoch, rest, mine.Code, token, b.tripFor.Milliseconds())
	if rest > 0 {
		// The copy decides; the call only wrote it back, or found a
		// later opening.
		if err == nil {
			b.seen(now, cmd, epoch, "")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		return false, &slotguard.OpenError{Code: b.code, Until: b.until}
	}
	if err != nil {
		return false, err
	}
	return b.seen(now, cmd, epoch, token)
}

// seen takes in the answer of allowScript to a call made at now, by a
// process that held its opening in epoch asked, with the probe token token.
func (b *Breaker) seen(now time.Time, cmd *redis.Cmd, asked, token string) (probe bool, err error) {
	res, err := cmd.Slice()
	if err != nil || len(res) < 2 {
		return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v (%v)", res, err)}
	}
	epoch, _ := res[0].(string)
	state, _ := res[1].(int64)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.epoch == asked {
		// Held there now, or written back; unless an Open came
		// meanwhile, which records its own.
		b.epoch = epoch
	}
	switch {
	case state == 1:
		return false, nil
	case state == 2 && len(res) == 3:
		b.gen, _, _ = strings.Cut(fmt.Sprint(res[2]), "|")
		b.token = token
		return true, nil
	case state == 0 && len(res) == 4:
		code, _ := res[2].(string)
		ms, _ := res[3].(int64)
		if ms <= 0 {
			return false, &slotguard.OpenError{Code: code}
		}
		until := now.Add(time.Duration(ms) * time.Millisecond)
		if until.After(b.until) {
			b.until, b.code = until, code
		}
		b.checked = now
		return false, &slotguard.OpenError{Code: code, Until: until}
	}
	return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v", res)}
}

// openScript: ARGV[1] the opening's length in ms, ARGV[2] its code,
// ARGV[3] a new generation, ARGV[4] how long tripped outlives it in ms. It
// returns the epoch.
var openScript = redis.NewScript(luaNow + `
local ekey = KEYS[4]
` + luaEpoch + luaOpen + `
open(tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]))
return epoch
`)

// Open implements slotguard.SharedBreaker: it opens the fleet's breaker
// until until, naming the provider's ban code ("" for a run of NO_SLOT
// answers); a later opening already in Redis wins. It is recorded even
// when ctx has ended (within Config.Timeout), as Close is. until is sent as a
// duration from now, so that the machines' clocks need not agree. Opening
// again ends the fleet's probe, if one is out: the next probe comes after
// the new end. The process remembers the opening: when the call fails (or
// is skipped in a back-off), or Redis loses it later, the process writes it
// back at its first Allow once Redis answers.
func (b *Breaker) Open(ctx context.Context, until time.Time, code string) error {
	d := time.Until(until)
	if d < time.Millisecond {
		return nil
	}
	b.mu.Lock()
	mine := until.After(b.until)
	if mine {
		b.until, b.code, b.epoch = until, code, ""
		b.checked = time.Now()
	}
	b.mu.Unlock()
	// The answer that opens has been read: record it even if the
	// request's context has just ended.
	ctx = context.WithoutCancel(ctx)
	cmd, err := b.l.run(ctx, "breaker open", openScript, b.keys, d.Milliseconds(), code, b.newToken(), b.tripFor.Milliseconds())
	b.mu.Lock()
	defer b.mu.Unlock()
	if !mine || !b.until.Equal(until) {
		return err
	}
	if err != nil {
		b.epoch = "" // write it back when Redis answers
		return err
	}
	b.epoch, _ = cmd.Val().(string)
	return nil
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
	ctx = context.WithoutCancel(ctx) // as in Open
	_, err := b.l.run(ctx, "breaker close", closeScript, b.keys[:3], gen)
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
