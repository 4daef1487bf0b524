package slotguard

import (
	"cmp"
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limitSetter is a Waiter whose rate can move (a *rate.Limiter, or a shared
// limiter that supports it).
type limitSetter interface{ SetLimit(rate.Limit) }

// newRateControl returns the rate control cfg asks for, nil when the rate
// never moves. r is the scaled Rate, burst the pacer's.
func newRateControl(cfg Config, r float64, burst int, lim *rate.Limiter, scale float64) *rateControl {
	hours := cfg.Schedule != Schedule{}
	if !cfg.Adaptive.Enabled && !hours {
		return nil
	}
	a := cfg.Adaptive
	scale = max(scale, 1)
	c := &rateControl{
		base:     r,
		adaptive: a.Enabled,
		floor:    cmp.Or(a.Floor*scale, r/10),
		dec:      cmp.Or(a.Decrease, 0.75),
		inc:      cmp.Or(a.Increase*scale, r/8),
		scale:    scale,
		burst:    burst,
		key:      r,
		ceiling:  r,
		hour:     -1,
	}
	if hours {
		s := cfg.Schedule
		c.hours = &s
	}
	if lim != nil {
		c.targets = append(c.targets, lim)
	}
	if ls, ok := cfg.Shared.Pacer.(limitSetter); ok {
		c.targets = append(c.targets, ls)
	}
	return c
}

// rateControl moves the pacer's rate: the schedule sets the key's ceiling
// for each hour, and adaptive pacing keeps a rate per task type below it.
//
// The adaptive rate is per type because NO_SLOT is: it says the workers of
// the submit's type are busy (issue 14), so a reCAPTCHA shortage slows
// reCAPTCHA submits and leaves image submits at their own pace. The key's
// pacer (and a shared one: the fleet's) stays at the ceiling, the pace the
// user set for the key; each attempt then waits for its type's token and
// for the key's. With one type this is the single adaptive rate it always
// was. Types past maxTypes share the untyped rate.
type rateControl struct {
	targets         []limitSetter // the key's pacers
	base            float64       // Config.Rate, scaled
	hours           *Schedule
	adaptive        bool
	floor, dec, inc float64
	scale           float64
	burst           int
	mu              sync.Mutex
	key, ceiling    float64 // the key's pacers' rate, and the hour's ceiling
	hour            int     // the hour whose ceiling applies; -1 before the first
	untyped         *typeRate
	typed           map[string]*typeRate // at most maxTypes
}

// typeRate is one task type's adaptive rate and the limiter that holds it.
type typeRate struct {
	lim *rate.Limiter
	cur float64
}

// observe is called with each answer's verdict for a submit of type typ.
func (c *rateControl) observe(typ string, v verdict) {
	if !c.adaptive {
		return
	}
	c.mu.Lock()
	push := c.applyHour(time.Now())
	defer c.unlock(push)
	tr := c.typeRate(typ)
	r := tr.cur
	switch v {
	case verdictNoSlot, verdictUserTurn, verdictRetryAfter:
		r = max(c.floor, r*c.dec)
	case verdictAccepted:
		r = min(c.ceiling, r+c.inc)
	}
	tr.set(r)
}

// typeRate returns typ's rate, made at the ceiling on first use: a type
// nothing is known of yet goes at the key's pace. c.mu is held.
func (c *rateControl) typeRate(typ string) *typeRate {
	if typ != "" {
		if tr, ok := c.typed[typ]; ok {
			return tr
		}
		if len(c.typed) < maxTypes {
			if c.typed == nil {
				c.typed = make(map[string]*typeRate)
			}
			tr := &typeRate{lim: rate.NewLimiter(rate.Limit(c.ceiling), c.burst), cur: c.ceiling}
			c.typed[typ] = tr
			return tr
		}
	}
	if c.untyped == nil {
		c.untyped = &typeRate{lim: rate.NewLimiter(rate.Limit(c.ceiling), c.burst), cur: c.ceiling}
	}
	return c.untyped
}

func (tr *typeRate) set(r float64) {
	if r != tr.cur {
		tr.cur = r
		tr.lim.SetLimit(rate.Limit(r))
	}
}

// wait takes a token of typ's adaptive rate (none without Adaptive), and
// reports how long it waited; the errors are pacer.wait's.
func (c *rateControl) wait(ctx context.Context, typ string) (time.Duration, error) {
	if !c.adaptive {
		return 0, nil
	}
	c.mu.Lock()
	push := c.applyHour(time.Now())
	lim := c.typeRate(typ).lim
	c.unlock(push)
	p := pacer{lim: lim, moving: true}
	return p.wait(ctx)
}

// tick applies the schedule's hour, before an attempt.
func (c *rateControl) tick(now time.Time) {
	if c.hours == nil {
		return
	}
	c.mu.Lock()
	c.unlock(c.applyHour(now))
}

// applyHour applies the schedule's hour, with c.mu held. It returns the
// key's new rate when the hour moved it (0 otherwise), for unlock to give
// the key's pacers.
func (c *rateControl) applyHour(now time.Time) (push float64) {
	if c.hours == nil {
		return 0
	}
	h := now.UTC().Hour()
	if h == c.hour {
		return 0
	}
	c.hour = h
	c.ceiling = c.base
	if r := c.hours[h]; r > 0 {
		c.ceiling = r * max(c.scale, 1)
	}
	if c.ceiling != c.key {
		c.key, push = c.ceiling, c.ceiling
	}
	// A new hour starts at its ceiling: the schedule is the user's word
	// for what the hour can take; adaptive pacing then moves below it.
	if c.untyped != nil {
		c.untyped.set(c.ceiling)
	}
	for _, tr := range c.typed {
		tr.set(c.ceiling)
	}
	return push
}

// unlock lets c.mu go, then gives the key's pacers the rate applyHour
// returned (0: none). A shared pacer is the user's code: it is never
// called under c.mu (STYLE 8; gobreaker issue #37). Only an hour's change
// pushes, so two pushes cannot cross.
func (c *rateControl) unlock(push float64) {
	c.mu.Unlock()
	if push == 0 {
		return
	}
	for _, t := range c.targets {
		t.SetLimit(rate.Limit(push))
	}
}

// rate is the fastest pace a submit may go now: the key's ceiling, or
// below it the fastest type's adaptive rate (once a type has one).
func (c *rateControl) rate() float64 {
	c.mu.Lock()
	push := c.applyHour(time.Now())
	defer c.unlock(push)
	if !c.adaptive || c.untyped == nil && len(c.typed) == 0 {
		return c.key
	}
	r := 0.0
	if c.untyped != nil {
		r = c.untyped.cur
	}
	for _, tr := range c.typed {
		r = max(r, tr.cur)
	}
	return min(r, c.key)
}

// typeRates returns each type's adaptive rate, scaled back to real time.
func (c *rateControl) typeRates() map[string]float64 {
	if c == nil || !c.adaptive {
		return nil
	}
	c.mu.Lock()
	push := c.applyHour(time.Now())
	defer c.unlock(push)
	m := make(map[string]float64, len(c.typed))
	for typ, tr := range c.typed {
		m[typ] = tr.cur / c.scale
	}
	return m
}

// rate is the pacer's current rate in real-time attempts per second.
func (t *Transport) rate() float64 {
	var r float64
	switch {
	case t.rc != nil:
		r = t.rc.rate()
	case t.pacer.lim != nil:
		r = float64(t.pacer.lim.Limit())
	default:
		return math.Inf(1)
	}
	return r / max(t.scale, 1)
}
