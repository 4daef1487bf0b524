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
// this one carries an opening to all, per task type as slotguard keeps it.
// A run of NO_SLOT answers opens its type's breaker; a ban opens the key's,
// which refuses every type.
//
// Each breaker is three keys (breakerlua.go lists them): open holds the
// opening's code and expires at its end (PX). tripped holds
// "generation|code" while the fleet has not seen a probe accepted since the
// opening (with a bounded TTL, the open period plus an hour, so a fleet
// that goes quiet mid-outage does not leave it behind). probe is taken with
// SET NX PX Config.ProbeTimeout by the one process whose submit probes.
// There is the key's breaker (bans), one per type for the first 32 types
// (a sorted set, types, holds them while their tripped key lives) and the
// untyped one, for submits of no known type and for the types past 32.
// Allow is one script: the key's open or the type's → refuse; the key's
// tripped, then the type's, and no probe → take its probe; a probe out →
// refuse; otherwise allow. Open, Close and Release are one script each. No
// lock is held across a request.
//
// Each process remembers the latest opening it saw (Allow) or made (Open),
// the key's and each type's (the first 32 types it meets), and while that
// is ahead Allow refuses from this copy, with no round trip but one a
// second (below): an opening only ever grows until its end (a later
// opening wins), and it can only be closed by a probe, which comes after
// the end. (A key deleted by hand is seen at the end of the copy's open
// period.) Once a second (and at once when its Open did not reach Redis)
// such a refusing Allow asks Redis whether the fleet's epoch is still the
// one in which Redis held the copy: if Redis has lost its state since, or
// never got the opening, the process writes its opening back (a later end
// in Redis wins), so that processes that never saw it, or started after
// the loss, see it.
type Breaker struct {
	l            *link
	base         string
	fixed        []string // the keys every call names: KEYS[1..5] and [9..11]
	probeTimeout time.Duration
	tripFor      time.Duration // how much longer than the opening tripped lives
	recheck      time.Duration // how often a refusing Allow asks Redis

	id  string // this process, in probe tokens and generations
	seq atomic.Uint64

	mu     sync.Mutex
	ban    opening              // the key's latest opening, as this process knows it
	typed  map[string]*opening  // each type's, at most maxTypes+1
	probes map[string]probeHeld // this process's probes, by type
}

// opening is a process's copy of one breaker's latest opening.
type opening struct {
	until   time.Time
	code    string
	epoch   string    // the epoch in which Redis held it; "": not known to
	checked time.Time // when a refusing Allow last asked Redis
}

// probeHeld is a probe this process holds.
type probeHeld struct {
	entry int    // the breaker it probes (3, 6, 9: see breakerlua.go)
	gen   string // the generation it probes
	token string
}

// recheckEvery is how often a process that refuses from its copy of an
// opening asks Redis whether the opening is still there.
const recheckEvery = time.Second

func newBreaker(l *link, base string, cfg *Config) *Breaker {
	return &Breaker{
		l:    l,
		base: base,
		fixed: []string{base + "epoch", base + "types", base + "open", base + "tripped", base + "probe",
			base + "open:", base + "tripped:", base + "probe:"},
		probeTimeout: cfg.scaled(cmp.Or(cfg.ProbeTimeout, defaultProbeTimeout)),
		tripFor:      cfg.scaled(time.Hour),
		recheck:      recheckEvery,
		id:           newID(),
	}
}

// ownType is the type whose breaker typ's runs are kept in, as far as the
// process can tell: typ, or "" (the untyped) for a name too long for a key.
func ownType(typ string) string {
	if len(typ) > maxTypeLen {
		return ""
	}
	return typ
}

// keys are the scripts' keys for type typ (breakerlua.go).
func (b *Breaker) keys(typ string) []string {
	k := make([]string, 0, 11)
	k = append(k, b.fixed[:5]...)
	if typ == "" {
		k = append(k, b.fixed[5:]...)
	} else {
		k = append(k, b.base+"open:"+typ, b.base+"tripped:"+typ, b.base+"probe:"+typ)
	}
	return append(k, b.fixed[5:]...)
}

// newToken returns a token no other call of the fleet uses.
func (b *Breaker) newToken() string {
	return b.id + "." + strconv.FormatUint(b.seq.Add(1), 36)
}

// holding is the copy that refuses typ's submits at now: the key's, else
// typ's; nil when neither is ahead. b.mu held.
func (b *Breaker) holding(typ string, now time.Time) *opening {
	if now.Before(b.ban.until) {
		return &b.ban
	}
	if o := b.typed[typ]; o != nil && now.Before(o.until) {
		return o
	}
	return nil
}

// copyOf is the copy of entry's opening for typ: the key's, or typ's, made
// on first use; nil when the process keeps maxTypes+1 types' copies that
// are all ahead. b.mu held.
func (b *Breaker) copyOf(entry int, typ string) *opening {
	if entry == 3 {
		return &b.ban
	}
	if o := b.typed[typ]; o != nil {
		return o
	}
	if len(b.typed) > maxTypes {
		now := time.Now()
		for t, o := range b.typed {
			if !now.Before(o.until) {
				delete(b.typed, t)
			}
		}
		if len(b.typed) > maxTypes {
			return nil
		}
	}
	if b.typed == nil {
		b.typed = make(map[string]*opening)
	}
	o := &opening{}
	b.typed[typ] = o
	return o
}

// Allow implements slotguard.SharedBreaker: nil while the key's breaker
// and typ's are closed; probe true for the one submit of the fleet that
// probes one of them after an opening; an *slotguard.OpenError (matching
// slotguard.ErrCircuitOpen) otherwise. One Redis call bounded by
// Config.Timeout; while the latest opening this process saw or made for
// the key or typ is ahead, none but one a second.
func (b *Breaker) Allow(ctx context.Context, typ string) (probe bool, err error) {
	typ = ownType(typ)
	now := time.Now()
	b.mu.Lock()
	c := b.holding(typ, now)
	var mine opening
	var rest int64 // ms left of this process's opening
	if c != nil {
		mine = *c
		if mine.epoch != "" && now.Sub(c.checked) < b.recheck {
			b.mu.Unlock()
			return false, &slotguard.OpenError{Code: mine.code, Until: mine.until}
		}
		c.checked = now
		rest = max(mine.until.Sub(now).Milliseconds(), 1)
	}
	b.mu.Unlock()
	token := b.newToken()
	cmd, err := b.l.run(ctx, "breaker allow", allowScript, b.keys(typ),
		typ, b.probeTimeout.Milliseconds(), token, mine.epoch, rest, mine.code, token, b.tripFor.Milliseconds())
	if c != nil {
		// The copy decides; the call only wrote it back, or found a
		// later opening.
		if err == nil {
			b.seen(now, cmd, typ, c, mine.epoch, "")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if h := b.holding(typ, now); h != nil {
			c = h
		}
		return false, &slotguard.OpenError{Code: c.code, Until: c.until}
	}
	if err != nil {
		return false, err
	}
	return b.seen(now, cmd, typ, nil, "", token)
}

// seen takes in the answer of allowScript to a call for typ made at now,
// by a process that refused from its copy c held in epoch asked (c nil
// when none), with the probe token token.
func (b *Breaker) seen(now time.Time, cmd *redis.Cmd, typ string, c *opening, asked, token string) (probe bool, err error) {
	res, err := cmd.Slice()
	if err != nil || len(res) < 2 {
		return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v (%v)", res, err)}
	}
	epoch, _ := res[0].(string)
	state, _ := res[1].(int64)
	b.mu.Lock()
	defer b.mu.Unlock()
	if c != nil && c.epoch == asked {
		// Held there now, or written back; unless an Open came
		// meanwhile, which records its own.
		c.epoch = epoch
	}
	switch {
	case state == 1:
		return false, nil
	case state == 2 && len(res) == 4:
		entry, _ := res[3].(int64)
		gen, _, _ := strings.Cut(fmt.Sprint(res[2]), "|")
		if b.probes == nil {
			b.probes = make(map[string]probeHeld)
		}
		b.probes[typ] = probeHeld{entry: int(entry), gen: gen, token: token}
		return true, nil
	case state == 0 && len(res) == 5:
		code, _ := res[2].(string)
		ms, _ := res[3].(int64)
		entry, _ := res[4].(int64)
		if ms <= 0 {
			return false, &slotguard.OpenError{Code: code}
		}
		until := now.Add(time.Duration(ms) * time.Millisecond)
		if o := b.copyOf(int(entry), typ); o != nil && until.After(o.until) {
			*o = opening{until: until, code: code, epoch: epoch, checked: now}
		}
		return false, &slotguard.OpenError{Code: code, Until: until}
	}
	return false, &Error{Op: "breaker allow", Err: fmt.Errorf("unexpected answer %v", res)}
}

// Open implements slotguard.SharedBreaker: it opens the key's breaker
// until until for a ban (code "ERROR: 1001", ...), and typ's for a run of
// NO_SLOT answers (code ""); a later opening already in Redis wins. It is
// recorded even when ctx has ended (within Config.Timeout), as Close is.
// until is sent as a duration from now, so that the machines' clocks need
// not agree. Opening again ends that breaker's probe, if one is out: the
// next probe comes after the new end. The process remembers the opening:
// when the call fails (or is skipped in a back-off), or Redis loses it
// later, the process writes it back at its first Allow for typ once Redis
// answers.
func (b *Breaker) Open(ctx context.Context, typ string, until time.Time, code string) error {
	typ = ownType(typ)
	d := time.Until(until)
	if d < time.Millisecond {
		return nil
	}
	b.mu.Lock()
	entry := 6
	if code != "" {
		entry = 3
	}
	c := b.copyOf(entry, typ)
	mine := c != nil && until.After(c.until)
	if mine {
		*c = opening{until: until, code: code, checked: time.Now()}
	}
	b.mu.Unlock()
	// The answer that opens has been read: record it even if the
	// request's context has just ended.
	ctx = context.WithoutCancel(ctx)
	cmd, err := b.l.run(ctx, "breaker open", openScript, b.keys(typ),
		typ, d.Milliseconds(), code, b.newToken(), b.tripFor.Milliseconds())
	b.mu.Lock()
	defer b.mu.Unlock()
	if !mine || !c.until.Equal(until) {
		return err
	}
	if err != nil {
		c.epoch = "" // write it back when Redis answers
		return err
	}
	c.epoch, _ = cmd.Val().(string)
	return nil
}

// Close implements slotguard.SharedBreaker: after this process's probe for
// typ was accepted it closes the breaker the probe was for (the key's, or
// typ's), unless a newer opening came meanwhile (another process's ban or
// NO_SLOT run), which stands. Without a probe of this process's, it
// closes typ's breaker.
func (b *Breaker) Close(ctx context.Context, typ string) error {
	typ = ownType(typ)
	p := b.endProbe(typ)
	ctx = context.WithoutCancel(ctx) // as in Open
	_, err := b.l.run(ctx, "breaker close", closeScript, b.keys(typ), typ, p.entry, p.gen)
	return err
}

// endProbe returns this process's probe for typ, zero when none, and
// forgets it: a probe's outcome is reported once.
func (b *Breaker) endProbe(typ string) probeHeld {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.probes[typ]
	delete(b.probes, typ)
	return p
}

// Release implements slotguard.SharedBreaker: it ends this process's
// probe for typ whose answer proved nothing either way (neither accepted,
// NO_SLOT nor a ban): the breaker stays as it was, and the next submit of
// the fleet may probe it at once, rather than after Config.ProbeTimeout.
// It does nothing unless this process holds that probe; a probe that
// timed out and went to another process stays that process's.
func (b *Breaker) Release(ctx context.Context, typ string) error {
	typ = ownType(typ)
	p := b.endProbe(typ)
	if p.token == "" {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // as in Open
	_, err := b.l.run(ctx, "breaker release", releaseScript, b.keys(typ)[p.entry+1:p.entry+2], p.token)
	return err
}
