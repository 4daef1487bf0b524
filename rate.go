package slotguard

import (
	"fmt"
	"math"
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
//
// The adaptive rate is kept per task type (TaskType; the first 32 types
// seen), because NO_SLOT speaks of the workers of one type: a reCAPTCHA
// shortage slows reCAPTCHA submits, not image ones. Rate (or the
// schedule's hour) stays the key's ceiling for all types together, and is
// what a shared pacer (Shared.Pacer) holds for the fleet; each process
// adapts its own types' rates below it.
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
