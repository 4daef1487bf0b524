package slotguard

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// Unlimited switches a bound off where a count is asked for:
// MaxInFlight: Unlimited sends attempts without a bound, and
// BreakerConfig{Failures: Unlimited} never opens on NO_SLOT answers (bans
// still hold it open).
const Unlimited = math.MaxInt

// Config configures a Transport. The zero value is valid and follows the
// provider's advice; each field documents its default.
type Config struct {
	// Rate is submit attempts per second, retries included. 0: 2, the
	// pace CaptchaAI's guide suggests for batches. math.Inf(1) switches
	// pacing off.
	Rate float64
	// Burst is how many attempts may go at once after a quiet spell.
	// 0: 1.
	Burst int
	// MaxInFlight bounds submit attempts in flight at once. 0: 8. Unlimited
	// switches the bound off.
	MaxInFlight int
	// Retry is the NO_SLOT backoff.
	Retry Backoff
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
	// Provider selects how provider-specific answers are read. The zero
	// value is CaptchaAI.
	Provider Provider
	// MaxReplayBody caps the request body that is buffered for replay when
	// the request has no GetBody. A larger body is sent once and never
	// retried. 0: 1 MiB (the providers refuse images over 100 kB, and
	// their base64 over about 135 kB).
	MaxReplayBody int64
	// Logger receives a debug record for each retry (attempt, code, wait)
	// and a warning when the breaker opens. nil: silent. API keys never
	// reach it.
	Logger *slog.Logger
	// Budget sets the lines of the ban budget, which every submit attempt
	// passes: whatever the pace, the Transport stays under the provider's
	// ban thresholds.
	Budget BudgetConfig
	// Adaptive makes the pacer follow the provider's answers. The zero
	// value: off.
	Adaptive Adaptive
	// Schedule sets the rate per UTC hour (see PublishedSchedule). The
	// zero value: Rate all day.
	Schedule Schedule
	// Polls paces res.php polls. The zero value: off, polls pass through
	// untouched.
	Polls PollPacing
	// Shared shares pacing, budget and breaker state between processes
	// that use one API key (see the redisguard module). The zero value:
	// all of it stays in this Transport.
	Shared Shared
	// TimeScale runs every duration slotguard uses faster, for
	// simulations against a fake provider running at the same scale
	// (captchaaitest, cmd/slotbench): N >= 1 divides the backoff, the
	// breaker's OpenFor, the provider's holds (MAX_USER_TURN, bans) by N
	// and multiplies Rate by N. 0 or 1: real time.
	TimeScale float64
}

// Backoff is the wait between NO_SLOT answers and the next attempt: Initial,
// then each wait Multiplier times the last, never more than Max. The zero
// value is CaptchaAI's advice: 3 s, 4.5 s, 6.75 s, 10.125 s, then 15 s, in
// all 5 attempts.
type Backoff struct {
	// Initial is the first wait. 0: 3s.
	Initial time.Duration
	// Multiplier is the growth per retry. 0: 1.5; otherwise at least 1.
	Multiplier float64
	// Max caps one wait. 0: 15s; at least Initial.
	Max time.Duration
	// Attempts is attempts in all, the first included. 0: 5; 1: never
	// retry. Unlimited retries until the context ends.
	Attempts int
	// Jitter spreads waits so that clients refused together do not come
	// back together: each wait is drawn uniformly from
	// [(1-Jitter) x wait, wait]. 0: off, so the schedule is exact; 1: full
	// jitter. At most 1.
	Jitter float64
	// Rand returns numbers in [0, 1) for Jitter. nil: math/rand/v2.
	Rand func() float64
}

// BreakerConfig configures the circuit breaker (see Breaker).
type BreakerConfig struct {
	// Failures is how many consecutive NO_SLOT answers open the breaker.
	// It counts answers, not time: at Rate r it is Failures/r seconds in
	// which nothing was accepted, so raise it with the rate. 0: 30.
	// Unlimited: never open on NO_SLOT (bans still hold it open).
	Failures int
	// OpenFor is how long the breaker stays open before one probe goes
	// through. 0: 30s.
	OpenFor time.Duration
}

func (c BreakerConfig) failures() int {
	return cmp.Or(c.Failures, defaultFailures)
}

func (c BreakerConfig) openFor() time.Duration {
	return cmp.Or(c.OpenFor, defaultOpenFor)
}

func (c BreakerConfig) validate(name string) error {
	if c.Failures < 0 {
		return fieldError(name+".Failures", c.Failures, "must not be negative (Unlimited switches the breaker off)")
	}
	if c.OpenFor < 0 {
		return fieldError(name+".OpenFor", c.OpenFor, "must not be negative")
	}
	return nil
}

// backoff is a validated Backoff with its defaults filled in.
type backoff struct {
	initial, max float64 // nanoseconds
	mult         float64
	attempts     int
	jitter       float64
	rand         func() float64
}

func (b Backoff) validate(name string) error {
	switch {
	case b.Initial < 0:
		return fieldError(name+".Initial", b.Initial, "must not be negative")
	case math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) || b.Multiplier != 0 && b.Multiplier < 1:
		return fieldError(name+".Multiplier", b.Multiplier, "must be at least 1 (0: 1.5)")
	case b.Max < 0:
		return fieldError(name+".Max", b.Max, "must not be negative")
	case cmp.Or(b.Max, 15*time.Second) < cmp.Or(b.Initial, 3*time.Second):
		return fieldError(name+".Max", cmp.Or(b.Max, 15*time.Second),
			fmt.Sprintf("must be at least Initial (%v)", cmp.Or(b.Initial, 3*time.Second)))
	case b.Attempts < 0:
		return fieldError(name+".Attempts", b.Attempts, "must not be negative (1: never retry)")
	case math.IsNaN(b.Jitter) || b.Jitter < 0 || b.Jitter > 1:
		return fieldError(name+".Jitter", b.Jitter, "must be between 0 and 1")
	}
	return nil
}

// compile fills in the defaults and applies the time scale; b must be valid.
func (b Backoff) compile(scale float64) backoff {
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return backoff{
		initial:  float64(scaled(cmp.Or(b.Initial, 3*time.Second), scale)),
		max:      float64(scaled(cmp.Or(b.Max, 15*time.Second), scale)),
		mult:     cmp.Or(b.Multiplier, 1.5),
		attempts: cmp.Or(b.Attempts, 5),
		jitter:   b.Jitter,
		rand:     r,
	}
}

// delay is the wait before retry n (1: after the first attempt).
func (b *backoff) delay(n int) time.Duration {
	d := b.initial
	for i := 1; i < n && d < b.max; i++ {
		d *= b.mult
	}
	d = min(d, b.max)
	if b.jitter > 0 {
		d -= d * b.jitter * b.rand()
	}
	return time.Duration(d)
}

func (c *Config) validate() error {
	switch {
	case math.IsNaN(c.Rate) || c.Rate < 0:
		return fieldError("Rate", c.Rate, "must not be negative (math.Inf(1) switches pacing off)")
	case c.Burst < 0:
		return fieldError("Burst", c.Burst, "must not be negative")
	case c.MaxInFlight < 0:
		return fieldError("MaxInFlight", c.MaxInFlight, "must not be negative (Unlimited switches the bound off)")
	case c.Provider != CaptchaAI && c.Provider != TwoCaptcha:
		return fieldError("Provider", int(c.Provider), "is not a known provider")
	case c.MaxReplayBody < 0:
		return fieldError("MaxReplayBody", c.MaxReplayBody, "must not be negative")
	case math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) || c.TimeScale != 0 && c.TimeScale < 1:
		return fieldError("TimeScale", c.TimeScale, "must be 0 (real time) or at least 1")
	}
	if c.Adaptive.Enabled && math.IsInf(c.Rate, 1) {
		return fieldError("Adaptive.Enabled", true, "needs a finite Rate to adapt")
	}
	for _, err := range []error{
		c.Retry.validate("Retry"),
		c.Breaker.validate("Breaker"),
		c.Budget.validate("Budget"),
		c.Adaptive.validate("Adaptive"),
		c.Schedule.validate("Schedule"),
		c.Polls.validate("Polls"),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// fieldError is a Config error naming the field, its value and the rule.
func fieldError(field string, v any, rule string) error {
	return fmt.Errorf("slotguard: Config.%s = %v %s", field, v, rule)
}

// scaled divides d by a time scale above 1.
func scaled(d time.Duration, scale float64) time.Duration {
	if scale <= 1 {
		return d
	}
	return time.Duration(float64(d) / scale)
}
