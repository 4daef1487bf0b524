package captchaaitest

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// DefaultKey is the API key of the account that a Config without Accounts
// gets: 32 characters, the format the provider checks.
const DefaultKey = "0123456789abcdef0123456789abcdef"

const (
	// DefaultSlots is an account's worker slots (threads) when Account.Slots is 0.
	DefaultSlots = 5
	// DefaultBalance is an account's balance in USD when Account.Balance is 0.
	DefaultBalance = 100.0
)

// Config describes the fake provider. The zero Config is valid: one account
// with DefaultKey, DefaultSlots and DefaultBalance, the default methods, real
// time, every published penalty on, no shared pool, no pool per type and no
// faults.
type Config struct {
	// Accounts are the API keys the provider knows. nil: one account with
	// DefaultKey. Each key must be 32 letters or digits.
	Accounts []Account

	// Methods overrides or adds in.php methods by name ("post", "base64",
	// "userrecaptcha", ...); see DefaultMethods for the built-in ones.
	Methods map[string]Method

	// Seed seeds the solve-time draws: the same seed gives the same solve
	// times for the same sequence of accepted tasks. 0 is a seed like any
	// other.
	Seed uint64

	// TimeScale compresses time: every provider duration (solve times, the
	// rolling windows, ban lengths, fault delays) lasts 1/TimeScale of it in
	// real time. 0 or 1: real time. Stats report provider time.
	TimeScale float64

	// StartOfDay is the UTC time of day at which the provider's clock starts,
	// used by the shared-pool model: 13*time.Hour starts at the 12-18 peak.
	// 0: midnight. Must be below 24h.
	StartOfDay time.Duration

	// SharedPool models the other customers of the provider: entry i is the
	// share of submits, in the six-hour band i of the UTC day (00-06, 06-12,
	// 12-18, 18-24), that find a free slot of the account and still get
	// NO_SLOT because the shared pool is full. Each in [0, 1]. All zero: no
	// shared pool. PublishedHours gives a load shaped like CaptchaAI's
	// published hours.
	SharedPool [4]float64

	// Pools are the provider's workers per captcha type, shared by all
	// accounts, keyed by type (PoolOf: "image", "recaptcha", ...). A type
	// without an entry has no pool limit, only its account's threads; nil:
	// no type ever runs short on its own. A full pool answers NO_SLOT to
	// submits of its type only, even when the account has free threads.
	// SharedPool stays beside it: it refuses a share of every type's
	// submits by time of day, at random, where a Pool refuses by count.
	Pools map[string]Pool

	// The published penalties, all on by default; each field turns one off.
	No1001        bool // 120 NO_SLOT answers in a rolling minute: in.php blocked 10 min
	No1002        bool // 120 ZERO_BALANCE answers in a rolling minute: in.php blocked 5 min
	No1003        bool // NO_SLOT >= 3 x accepted in a minute (NO_SLOT >= 120): blocked 30 s
	NoMaxUserTurn bool // more than 60 in.php requests within 3 s: MAX_USER_TURN for 10 s
	No1005        bool // res.php requests > 20 x accepted + 1200 in a rolling hour: blocked 10 min

	// Faults, when set, is called once per request, before the provider
	// handles it, and picks the Fault to inject. nil: no faults. It is never
	// called with the provider's lock held, and may be called concurrently.
	Faults func(FaultInfo) Fault
}

// Account is one API key of the provider.
type Account struct {
	Key     string  // 32 letters or digits
	Slots   int     // worker slots (threads) from provider time 0; 0: DefaultSlots
	Balance float64 // USD; 0: DefaultBalance. Each accepted task costs its Method's Price.

	// Capacity changes the slot count over provider time: from each step's
	// At on, the account has that step's Slots. At must be positive and
	// strictly increasing. nil: Slots throughout. A drop never ends accepted
	// tasks (the provider does not kill them): submits get NO_SLOT until the
	// slots still held fall below the new count.
	Capacity []Step
}

// Step is one change of an account's slot count: from provider time At on,
// the account has Slots worker slots. 0 slots is allowed: every submit is
// answered ERROR_NO_SLOT_AVAILABLE. In Pool.Capacity, Slots is the pool's
// workers of its type, and 0 refuses that type's submits only.
type Step struct {
	At    time.Duration // provider time since New; > 0
	Slots int           // >= 0; 0 means none, not DefaultSlots
}

// Method is how the provider treats one in.php method: a solve time drawn
// uniformly from [MinSolve, MaxSolve] (provider time, millisecond steps) and
// the price of an accepted task.
type Method struct {
	MinSolve, MaxSolve time.Duration
	Price              float64 // USD per accepted task
}

// DefaultMethods returns the built-in methods. Solve times follow the
// providers' advice on when to poll first (5 s for images, 10-20 s for
// tokens); prices are nominal, in USD, not any provider's list price.
//
//	post, base64 (image)               2-8 s    0.001
//	userrecaptcha, hcaptcha, funcaptcha 10-30 s  0.003
//	turnstile, geetest                 5-15 s   0.002
func DefaultMethods() map[string]Method {
	image := Method{2 * time.Second, 8 * time.Second, 0.001}
	token := Method{10 * time.Second, 30 * time.Second, 0.003}
	light := Method{5 * time.Second, 15 * time.Second, 0.002}
	return map[string]Method{
		"post": image, "base64": image,
		"userrecaptcha": token, "hcaptcha": token, "funcaptcha": token,
		"turnstile": light, "geetest": light,
	}
}

// PublishedHours returns a SharedPool load shaped like CaptchaAI's published
// hours: 00-06 UTC high availability, 06-12 moderate, 12-18 peak, 18-24
// moderate. The numbers are the fake's own.
func PublishedHours() [4]float64 { return [4]float64{0, 0.1, 0.3, 0.1} }

// validKey reports whether key has the provider's format: 32 letters or
// digits ("it should contain 32 symbols", CaptchaAI's ERROR_WRONG_USER_KEY).
func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validate checks c and returns an error that names the field.
func (c *Config) validate() error {
	if math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) || c.TimeScale < 0 {
		return fmt.Errorf("captchaaitest: Config.TimeScale %v: must be 0 or a positive number", c.TimeScale)
	}
	if c.StartOfDay < 0 || c.StartOfDay >= 24*time.Hour {
		return fmt.Errorf("captchaaitest: Config.StartOfDay %v: must be in [0, 24h)", c.StartOfDay)
	}
	for i, v := range c.SharedPool {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("captchaaitest: Config.SharedPool[%d] %v: must be in [0, 1]", i, v)
		}
	}
	seen := make(map[string]bool)
	for i, a := range c.Accounts {
		switch {
		case !validKey(a.Key):
			// The key itself stays out of the message.
			return fmt.Errorf("captchaaitest: Config.Accounts[%d].Key: must be 32 letters or digits", i)
		case seen[a.Key]:
			return fmt.Errorf("captchaaitest: Config.Accounts[%d].Key: duplicate key", i)
		case a.Slots < 0:
			return fmt.Errorf("captchaaitest: Config.Accounts[%d].Slots %d: must not be negative", i, a.Slots)
		case !(a.Balance >= 0) || math.IsInf(a.Balance, 0):
			return fmt.Errorf("captchaaitest: Config.Accounts[%d].Balance %v: must not be negative", i, a.Balance)
		}
		if err := validateSteps(fmt.Sprintf("Config.Accounts[%d]", i), a.Capacity); err != nil {
			return err
		}
		seen[a.Key] = true
	}
	if err := validatePools(c.Pools); err != nil {
		return err
	}
	for name, m := range c.Methods {
		if name == "" || m.MinSolve < 0 || m.MaxSolve < m.MinSolve || !(m.Price >= 0) || math.IsInf(m.Price, 0) {
			return fmt.Errorf("captchaaitest: Config.Methods[%q]: want 0 <= MinSolve <= MaxSolve and Price >= 0", name)
		}
	}
	return nil
}

// validateSteps checks the Capacity steps of the struct named by field
// ("Config.Accounts[1]", "Config.Pools[\"image\"]").
func validateSteps(field string, steps []Step) error {
	for j, st := range steps {
		switch {
		case st.At <= 0:
			return fmt.Errorf("captchaaitest: %s.Capacity[%d].At %v: must be positive", field, j, st.At)
		case j > 0 && st.At <= steps[j-1].At:
			return fmt.Errorf("captchaaitest: %s.Capacity[%d].At %v: must be after Capacity[%d].At %v",
				field, j, st.At, j-1, steps[j-1].At)
		case st.Slots < 0:
			return fmt.Errorf("captchaaitest: %s.Capacity[%d].Slots %d: must not be negative", field, j, st.Slots)
		}
	}
	return nil
}

// errNilRequest is returned by the in-memory transport for a nil request or URL.
var errNilRequest = errors.New("captchaaitest: nil Request or URL")

// ErrClosed is returned by the in-memory transport after Provider.Close.
var ErrClosed = errors.New("captchaaitest: provider closed")

var _ http.Handler = (*Provider)(nil)
