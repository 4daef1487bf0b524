package captchaaitest

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// NO_SLOT is per captcha type: the providers' guides say it means that all
// workers "for your requested CAPTCHA type" are busy, and that some types
// have fewer workers than others (issue 14). Config.Pools models those
// workers, shared by every account, beside each account's own threads.

// Pool is the provider's workers of one captcha type (see PoolOf), shared by
// all accounts. A submit of that type is answered ERROR_NO_SLOT_AVAILABLE
// while the tasks of the type in progress, all accounts together, are as
// many as the pool's workers or more, even when its account has a free
// thread; submits of the other types go on as before.
//
// Unlike Account.Slots, 0 Workers means none (the type is out), not a
// default: a type without an entry in Config.Pools has no pool limit.
type Pool struct {
	Workers int // from provider time 0; >= 0; 0 means none

	// Capacity changes the worker count over provider time, as
	// Account.Capacity changes the slots: from each step's At on, the pool
	// has that step's Slots workers (0: the type's outage). At must be
	// positive and strictly increasing. A drop never ends accepted tasks:
	// they keep their worker, and submits of the type get NO_SLOT until the
	// tasks in progress fall below the new count.
	Capacity []Step
}

// workersAt returns the pool's worker count at provider time now.
func (pl *Pool) workersAt(now time.Duration) int {
	n := pl.Workers
	for _, st := range pl.Capacity {
		if st.At > now {
			break
		}
		n = st.Slots
	}
	return n
}

// The built-in types: the in.php methods and createTask task types that
// share workers.
var methodTypes = map[string]string{
	"post": "image", "base64": "image",
	"userrecaptcha": "recaptcha",
	"hcaptcha":      "hcaptcha",
	"funcaptcha":    "funcaptcha",
	"turnstile":     "turnstile",
	"geetest":       "geetest",
}

// PoolOf returns the captcha type of an in.php method or a createTask task
// type: the key of its pool in Config.Pools and of its figures in
// Stats.ByType. Names that share workers share a type:
//
//	image       post, base64, ImageToTextTask
//	recaptcha   userrecaptcha (v2, v3, enterprise), RecaptchaV2Task*, RecaptchaV3Task*
//	hcaptcha    hcaptcha, HCaptchaTask*
//	funcaptcha  funcaptcha, FunCaptchaTask*
//	turnstile   turnstile, TurnstileTask*
//	geetest     geetest, GeeTestTask*
//
// Any other name (a method added through Config.Methods) is a type of its
// own, named as the method. The client side (package slotguard) keeps its own
// table; this one is the fake provider's.
func PoolOf(method string) string {
	if m, ok := v2Types[method]; ok {
		method = m
	}
	if typ, ok := methodTypes[method]; ok {
		return typ
	}
	return method
}

// pool is the state of one Config.Pools entry. The provider's lock guards it.
type pool struct {
	cfg Pool
	// active is the type's tasks that may still hold a worker, all accounts.
	// Only a submit that finds a free worker appends, so it never holds more
	// than the most workers the pool ever has.
	active []*task
}

// full reports whether the type's tasks in progress at now are as many as
// its workers at now, or more; it drops the tasks solved by then.
func (pl *pool) full(now time.Duration) bool {
	pl.active = slices.DeleteFunc(pl.active, func(t *task) bool { return t.end() <= now })
	return len(pl.active) >= pl.cfg.workersAt(now)
}

// newPools returns the state of each configured pool, keyed by type.
func newPools(cfg map[string]Pool) map[string]*pool {
	pools := make(map[string]*pool, len(cfg))
	for typ, pl := range cfg {
		pl.Capacity = slices.Clone(pl.Capacity)
		pools[typ] = &pool{cfg: pl}
	}
	return pools
}

// TypeStats is one captcha type's share of an account's Stats.
type TypeStats struct {
	Accepted int // submits of the type accepted and billed
	NoSlot   int // submits of the type answered ERROR_NO_SLOT_AVAILABLE, for any reason

	// PoolNoSlot is the part of NoSlot refused by the type's pool
	// (Config.Pools) while the account had a free thread.
	PoolNoSlot int
}

// maxTypes bounds Stats.ByType: past this many types, an account counts the
// new ones under otherType, so that many methods configured through
// Config.Methods cannot grow its accounting without bound.
const (
	maxTypes  = 32
	otherType = "other"
)

// byType returns the figures of typ in a, making them if a has room.
func (a *account) byType(typ string) *TypeStats {
	if ts, ok := a.types[typ]; ok {
		return ts
	}
	if len(a.types) >= maxTypes {
		typ = otherType
		if ts, ok := a.types[typ]; ok {
			return ts
		}
	}
	ts := new(TypeStats)
	a.types[typ] = ts
	return ts
}

// typeStats returns a copy of a's figures by type.
func (a *account) typeStats() map[string]TypeStats {
	m := make(map[string]TypeStats, len(a.types))
	for typ, ts := range a.types {
		m[typ] = *ts
	}
	return m
}

// validatePools checks Config.Pools, keys in order, and returns an error that
// names the field.
func validatePools(pools map[string]Pool) error {
	for _, typ := range slices.Sorted(maps.Keys(pools)) {
		pl := pools[typ]
		field := fmt.Sprintf("Config.Pools[%q]", typ)
		switch {
		case typ == "":
			return fmt.Errorf("captchaaitest: %s: the type must not be empty", field)
		case PoolOf(typ) != typ:
			// A method's name as the key would never match: pools are keyed by type.
			return fmt.Errorf("captchaaitest: %s: %q is of type %q: key pools by PoolOf", field, typ, PoolOf(typ))
		case pl.Workers < 0:
			return fmt.Errorf("captchaaitest: %s.Workers %d: must not be negative", field, pl.Workers)
		}
		if err := validateSteps(field, pl.Capacity); err != nil {
			return err
		}
	}
	return nil
}
