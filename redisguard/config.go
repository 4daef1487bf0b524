package redisguard

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/slotguard/slotguard"
)

// Config configures the fleet's shared state. The zero value is valid and
// follows the provider's advice, like slotguard.Config; each field documents
// its default. Every process of the fleet should use the same Config.
type Config struct {
	// Prefix starts every Redis key. 0: "slotguard".
	Prefix string
	// Rate is the fleet's submit attempts per second, retries included,
	// all processes together. 0: 2. math.Inf(1): no shared pacer
	// (Fleet.Pacer is nil).
	Rate float64
	// Burst is how many attempts the fleet may send at once after a
	// quiet spell. 0: 1.
	Burst int
	// Budget sets the fleet's ban lines, as slotguard.Config.Budget does
	// for one process: NO_SLOT answers per rolling minute, attempts in
	// flight counted as NO_SLOT answers to come (0: 110, of the 120 that
	// get the key blocked with ERROR: 1001), and submit attempts per
	// rolling 3 s (0: 50, of the 60 that bring MAX_USER_TURN).
	// slotguard.Unlimited switches a line off. The NO_SLOT line also
	// keeps the fleet clear of ERROR: 1003 (NO_SLOT answers at 3 x the
	// captchas sent, with a floor of 120): any line under 120 is under
	// that floor.
	Budget slotguard.BudgetConfig
	// Pending is how long an admitted attempt counts as in flight when
	// its Done never reaches Redis (the process died, Redis failed at that
	// moment, or the call was skipped in a back-off). It should outlast
	// the longest submit request plus a minute, so that a lost NO_SLOT is
	// counted for as long as the provider counts it. It is also how long a
	// thread permit lasts when Threads.Acquire or Accepted is given no ttl
	// or ceiling. 0: 2 minutes.
	Pending time.Duration
	// Poll caps one wait of Admit near the NO_SLOT line, when the room
	// can come from another process's answer, which Admit polls for; and
	// one wait of Threads.Acquire for a permit, which another process may
	// free. 0: 100 ms.
	Poll time.Duration
	// ProbeTimeout bounds the fleet's wait for its probe's outcome: after
	// it another process may probe. 0: 30 s.
	ProbeTimeout time.Duration
	// Timeout bounds every Redis call. 0: 50 ms.
	Timeout time.Duration
	// Backoff is how long the fleet's parts (pacer, budget, breaker and
	// threads of one Fleet) skip Redis after a call fails: meanwhile every call
	// returns an *Error matching ErrBackoff at once, and slotguard's
	// Transport uses its local limits; then one call tries Redis again.
	// An outage so costs one Timeout per Backoff, and the fleet is back on
	// its shared limits at most Backoff after Redis is. 0: 1 s.
	Backoff time.Duration
	// TimeScale runs every duration faster, as slotguard.Config.TimeScale
	// does, for simulations: N >= 1 divides the windows (minute, 3 s),
	// Pending, ProbeTimeout and the day the threads' learned capacity
	// outlives its last change by N, and multiplies Rate by N. Timeout,
	// Backoff and Poll are real time, and so are the durations that
	// slotguard's Transport passes to Threads (it scales them itself).
	// 0 or 1: real time.
	TimeScale float64
}

// Defaults.
const (
	defaultPrefix       = "slotguard"
	defaultRate         = 2
	defaultNoSlotLine   = slotguard.DefaultNoSlotPerMinute
	defaultSubmitLine   = slotguard.DefaultSubmitsPer3s
	defaultPending      = 2 * time.Minute
	defaultPoll         = 100 * time.Millisecond
	defaultProbeTimeout = 30 * time.Second
	defaultTimeout      = 50 * time.Millisecond
	defaultBackoff      = time.Second
)

func (c *Config) validate() error {
	switch {
	case math.IsNaN(c.Rate) || c.Rate < 0:
		return fieldError("Rate", c.Rate, "must not be negative (math.Inf(1) switches the shared pacer off)")
	case c.Burst < 0:
		return fieldError("Burst", c.Burst, "must not be negative")
	case c.Budget.NoSlotPerMinute < 0:
		return fieldError("Budget.NoSlotPerMinute", c.Budget.NoSlotPerMinute, "must not be negative (slotguard.Unlimited switches it off)")
	case c.Budget.SubmitsPer3s < 0:
		return fieldError("Budget.SubmitsPer3s", c.Budget.SubmitsPer3s, "must not be negative (slotguard.Unlimited switches it off)")
	case c.Pending < 0:
		return fieldError("Pending", c.Pending, "must not be negative")
	case c.Poll < 0:
		return fieldError("Poll", c.Poll, "must not be negative")
	case c.ProbeTimeout < 0:
		return fieldError("ProbeTimeout", c.ProbeTimeout, "must not be negative")
	case c.Timeout < 0:
		return fieldError("Timeout", c.Timeout, "must not be negative")
	case c.Backoff < 0:
		return fieldError("Backoff", c.Backoff, "must not be negative")
	case math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) || c.TimeScale != 0 && c.TimeScale < 1:
		return fieldError("TimeScale", c.TimeScale, "must be 0 (real time) or at least 1")
	}
	return nil
}

func fieldError(field string, v any, rule string) error {
	return fmt.Errorf("redisguard: Config.%s = %v %s", field, v, rule)
}

// scaled divides d by a time scale above 1, keeping at least a millisecond
// (the scripts count in milliseconds).
func (c *Config) scaled(d time.Duration) time.Duration {
	if c.TimeScale <= 1 {
		return d
	}
	return max(time.Duration(float64(d)/c.TimeScale), time.Millisecond)
}

func (c *Config) timeout() time.Duration { return cmp.Or(c.Timeout, defaultTimeout) }

// KeyBase returns the part every Redis key of apiKey starts with:
// prefix (0: "slotguard"), then the first 16 hex digits of the SHA-256 of
// apiKey as a Redis Cluster hash tag, e.g. "slotguard:{a1b2c3d4e5f60718}:".
func KeyBase(prefix, apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return cmp.Or(prefix, defaultPrefix) + ":{" + hex.EncodeToString(sum[:8]) + "}:"
}
