package slotguard

import (
	"cmp"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive makes the pacer follow the provider's answers, AIMD style: each
// NO_SLOT or MAX_USER_TURN multiplies the rate by Decrease, each accepted
// submit adds Increase, between Floor and the ceiling (Rate, or the
// schedule's rate for the hour). Demand above an account's capacity then
// settles near the pace at which its slots free, so fewer attempts are
// wasted on NO_SLOT, for a little less of the account's capacity used: the
// trade is measured by cmd/slotbench (policy slotguard-adaptive), and the
// defaults are the factors that sat best between the two there. It is
// therefore opt-in.
type Adaptive struct {
	// Enabled switches adaptive pacing on. The zero value: off.
	Enabled bool
	// Floor is the lowest rate, attempts per second. 0: a tenth of Rate.
	Floor float64
	// Decrease is the factor applied on NO_SLOT and MAX_USER_TURN, above 0
	// and below 1. 0: 0.75.
	Decrease float64
	// Increase is the rate added per accepted submit, attempts per second.
	// 0: an eighth of Rate.
	Increase float64
}

func (a Adaptive) validate(name string) error {
	switch {
	case math.IsNaN(a.Floor) || math.IsInf(a.Floor, 0) || a.Floor < 0:
		return fieldError(name+".Floor", a.Floor, "must be a rate of 0 or more")
	case math.IsNaN(a.Decrease) || a.Decrease < 0 || a.Decrease >= 1:
		return fieldError(name+".Decrease", a.Decrease, "must be above 0 and below 1 (0: 0.75)")
	case math.IsNaN(a.Increase) || math.IsInf(a.Increase, 0) || a.Increase < 0:
		return fieldError(name+".Increase", a.Increase, "must be a rate of 0 or more")
	}
	return nil
}

// Schedule is a submit rate per UTC hour (index 0: 00:00-01:00); a zero
// entry means Config.Rate. Batch users can run faster off-peak.
type Schedule [24]float64

// PublishedSchedule follows CaptchaAI's published hours: high availability
// 00:00-06:00 UTC, moderate 06:00-12:00 and 18:00-24:00, peak 12:00-18:00.
func PublishedSchedule(high, moderate, peak float64) Schedule {
	var s Schedule
	for h := range s {
		switch band(h) {
		case BandHigh:
			s[h] = high
		case BandPeak:
			s[h] = peak
		default:
			s[h] = moderate
		}
	}
	return s
}

// Band is a part of the day in CaptchaAI's published availability table.
type Band string

const (
	BandHigh     Band = "high availability" // 00:00-06:00 UTC
	BandModerate Band = "moderate"          // 06:00-12:00 and 18:00-24:00 UTC
	BandPeak     Band = "peak"              // 12:00-18:00 UTC
)

func band(hour int) Band {
	switch {
	case hour < 6:
		return BandHigh
	case hour >= 12 && hour < 18:
		return BandPeak
	}
	return BandModerate
}

func (s *Schedule) validate(name string) error {
	for h, r := range s {
		if math.IsNaN(r) || r < 0 {
			return fieldError(fmt.Sprintf("%s[%d]", name, h), r, "must not be negative")
		}
	}
	return nil
}

// limitSetter is a Waiter whose rate can move (a *rate.Limiter, or a shared
// limiter that supports it).
type limitSetter interface{ SetLimit(rate.Limit) }

// newRateControl returns the rate control cfg asks for, nil when the rate
// never moves. r is the scaled Rate.
func newRateControl(cfg Config, r float64, lim *rate.Limiter, scale float64) *rateControl {
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
		cur:      r,
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

// rateControl moves the pacer's rate: the schedule sets the ceiling for
// each hour, and adaptive pacing follows the answers below it.
type rateControl struct {
	targets         []limitSetter
	base            float64 // Config.Rate, scaled
	hours           *Schedule
	adaptive        bool
	floor, dec, inc float64
	scale           float64
	mu              sync.Mutex
	cur, ceiling    float64
	hour            int // the hour whose ceiling applies; -1 before the first
}

// observe is called with each answer's verdict.
func (c *rateControl) observe(v verdict) {
	if !c.adaptive {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyHour(time.Now())
	r := c.cur
	switch v {
	case verdictNoSlot, verdictUserTurn, verdictRetryAfter:
		r = max(c.floor, r*c.dec)
	case verdictAccepted:
		r = min(c.ceiling, r+c.inc)
	}
	c.set(r)
}

// tick applies the schedule's hour, before an attempt.
func (c *rateControl) tick(now time.Time) {
	if c.hours == nil {
		return
	}
	c.mu.Lock()
	c.applyHour(now)
	c.mu.Unlock()
}

func (c *rateControl) applyHour(now time.Time) {
	if c.hours == nil {
		return
	}
	h := now.UTC().Hour()
	if h == c.hour {
		return
	}
	c.hour = h
	c.ceiling = c.base
	if r := c.hours[h]; r > 0 {
		c.ceiling = r * max(c.scale, 1)
	}
	// A new hour starts at its ceiling: the schedule is the user's word
	// for what the hour can take; adaptive pacing then moves below it.
	c.set(c.ceiling)
}

func (c *rateControl) set(r float64) {
	if r == c.cur {
		return
	}
	c.cur = r
	for _, t := range c.targets {
		t.SetLimit(rate.Limit(r))
	}
}

func (c *rateControl) rate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyHour(time.Now())
	return c.cur
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
