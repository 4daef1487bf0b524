package slotguard

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Config defaults, where a zero field asks for them.
const (
	// defaultRate is the pace CaptchaAI's guide suggests for batches.
	defaultRate  = 2
	defaultBurst = 1
	// defaultMaxInFlight: at the default pace an in.php answer would have
	// to take 4 s for 8 attempts to be in flight; the bound is there for
	// slow uploads and stalls, where piling up more requests helps nobody.
	defaultMaxInFlight = 8
	// defaultMaxReplayBody: the providers refuse images over 100 kB, and
	// their base64 over about 135 kB.
	defaultMaxReplayBody = 1 << 20
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
	// MaxReplayBody caps the request body that the Transport copies once,
	// to replay it on retries and to read the submit's task type from. A
	// larger body is sent as it is, and retried only through the request's
	// GetBody; without one, never. 0: 1 MiB (the providers refuse images
	// over 100 kB, and their base64 over about 135 kB).
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
	// Threads makes each submit hold a thread permit from before its
	// first attempt until its task ends. The zero value: off.
	Threads Threads
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
		c.Threads.validate("Threads"),
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
