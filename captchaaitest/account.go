package captchaaitest

import (
	"maps"
	"math"
	"slices"
	"time"
)

// micros converts USD to whole micro-dollars, so that the balance sums
// exactly: 0.002 - 0.001 - 0.001 is 0, not a float residue.
func micros(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// task is one accepted task. It holds a slot of its account from at until
// at+solve (provider time); nothing runs when it ends: the slot count is
// computed from these timestamps when asked.
type task struct {
	id        int64
	acct      *account
	method    string
	at, solve time.Duration
	price     int64 // micro-USD
}

func (t *task) end() time.Duration { return t.at + t.solve }

// account is one API key's state. The provider's lock guards it.
//
// The slot time offered and used is integrated piecewise up to at: between
// two breakpoints (a Capacity step, a task's start or end) both the slot
// count and the slots held are constant.
type account struct {
	slots   int    // the slot count at provider time at
	steps   []Step // Account.Capacity
	next    int    // steps[next:] start after at
	at      time.Duration
	offered time.Duration // integral of slots over [0, at]
	used    time.Duration // integral of min(held, slots) over [0, at]
	balance int64         // micro-USD
	active  []*task       // tasks that may still hold a slot, in acceptance order
	busy    time.Duration // integral of the slots held over [0, at]
	pen     penalties

	accepted, polls       int
	rejected, bans        map[string]int
	types                 map[string]*TypeStats // at most maxTypes+1 entries
	inFlight, maxInFlight int
	noSlotMin             []int // NO_SLOT answers per provider minute
}

func newAccount(a Account) *account {
	acc := &account{
		slots:    a.Slots,
		steps:    append([]Step(nil), a.Capacity...),
		balance:  micros(a.Balance),
		pen:      newPenalties(),
		rejected: make(map[string]int),
		bans:     make(map[string]int),
		types:    make(map[string]*TypeStats),
	}
	if acc.slots == 0 {
		acc.slots = DefaultSlots
	}
	if a.Balance == 0 {
		acc.balance = micros(DefaultBalance)
	}
	return acc
}

// advance integrates the slot time offered and used up to now and moves the
// slot count to the one at now. It must see every task that ended after at,
// so release calls it before dropping them.
func (a *account) advance(now time.Duration) {
	for {
		for a.next < len(a.steps) && a.steps[a.next].At <= a.at {
			a.slots = a.steps[a.next].Slots
			a.next++
		}
		if a.at >= now {
			return
		}
		end := now
		if a.next < len(a.steps) {
			end = min(end, a.steps[a.next].At)
		}
		held := 0
		for _, t := range a.active {
			switch e := t.end(); {
			case t.at > a.at: // accepted later than at: starts holding within
				end = min(end, t.at)
			case e > a.at:
				held++
				end = min(end, e)
			}
		}
		d := end - a.at
		a.busy += time.Duration(held) * d
		a.offered += time.Duration(a.slots) * d
		// Tasks held above a dropped count keep running, but the account
		// offered only a.slots: the excess is busy, not used.
		a.used += time.Duration(min(held, a.slots)) * d
		a.at = end
	}
}

// release advances the accounting to now and drops the tasks solved by
// then. It returns the slots still held; a.slots is then the slot count at
// now.
func (a *account) release(now time.Duration) int {
	a.advance(now)
	a.active = slices.DeleteFunc(a.active, func(t *task) bool { return t.end() <= now })
	return len(a.active)
}

// freeSlot reports whether fewer slots are held at now than the slot count
// at now. Two statements on purpose: in one expression Go leaves the read of
// a.slots unordered against the call that moves it.
func (a *account) freeSlot(now time.Duration) bool {
	held := a.release(now)
	return held < a.slots
}

// reject counts a refused submit, and the ban it started if any.
func (a *account) reject(code, ban string) {
	a.rejected[code]++
	if ban != "" {
		a.bans[ban]++
	}
}

// noSlot counts a NO_SLOT answer in the per-minute series.
func (a *account) noSlot(now time.Duration) {
	m := int(now / time.Minute)
	for len(a.noSlotMin) <= m {
		a.noSlotMin = append(a.noSlotMin, 0)
	}
	a.noSlotMin[m]++
}

// Stats is a snapshot of one account's accounting. Durations are provider
// time. Its maps and slice are copies: the caller may keep and change them.
type Stats struct {
	Accepted int            // submits accepted and billed
	Rejected map[string]int // submits refused (never billed) and polls refused by ERROR: 1005, by code
	Polls    int            // res.php and getTaskResult requests
	Bans     map[string]int // blocks started, by code: "ERROR: 1001", "MAX_USER_TURN", ...

	// MaxInFlight is the highest number of this key's requests the provider
	// was handling at once (from arrival until the answer's headers are out,
	// injected delays included).
	MaxInFlight int

	Slots        int           // the account's worker slots at Elapsed (Account.Capacity)
	BusySlotTime time.Duration // slot time held by tasks so far, above a dropped count too
	Elapsed      time.Duration // since the provider started
	Balance      float64       // USD left

	// OfferedSlotTime is the integral of the slot count over [0, Elapsed]:
	// Slots x Elapsed without Capacity steps. UsedSlotTime is the integral
	// of min(slots held, slot count): the part of the offered slot time that
	// held a task. Tasks held above a count that dropped count in
	// BusySlotTime, not here.
	OfferedSlotTime time.Duration
	UsedSlotTime    time.Duration

	// NoSlotPerMinute[i] is the NO_SLOT answers in provider minute i (from
	// i minutes to i+1 after the start): plot it against the 120 a minute
	// that triggers ERROR: 1001.
	NoSlotPerMinute []int

	// ByType breaks the submits accepted and refused NO_SLOT down by
	// captcha type (PoolOf), for the types this key has submitted: at most
	// 32 of them, in the order first seen; later types count under "other".
	ByType map[string]TypeStats
}

// Utilization returns UsedSlotTime / OfferedSlotTime: the share of the slot
// time the account offered that held a task. Without Capacity steps it is
// BusySlotTime / (Slots x Elapsed). 0 when nothing was offered.
func (s Stats) Utilization() float64 {
	if s.OfferedSlotTime <= 0 {
		return 0
	}
	return float64(s.UsedSlotTime) / float64(s.OfferedSlotTime)
}

func (a *account) stats(now time.Duration) Stats {
	a.release(now) // advances the accounting to now
	return Stats{
		Accepted:        a.accepted,
		Rejected:        maps.Clone(a.rejected),
		Polls:           a.polls,
		Bans:            maps.Clone(a.bans),
		MaxInFlight:     a.maxInFlight,
		Slots:           a.slots,
		BusySlotTime:    a.busy,
		OfferedSlotTime: a.offered,
		UsedSlotTime:    a.used,
		Elapsed:         now,
		Balance:         float64(a.balance) / 1e6,
		NoSlotPerMinute: append([]int(nil), a.noSlotMin...),
		ByType:          a.typeStats(),
	}
}
