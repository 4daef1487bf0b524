package captchaaitest

import (
	"maps"
	"math"
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
type account struct {
	slots   int
	balance int64   // micro-USD
	active  []*task // tasks that may still hold a slot, in acceptance order
	busy    time.Duration
	pen     penalties

	accepted, polls       int
	rejected, bans        map[string]int
	inFlight, maxInFlight int
	noSlotMin             []int // NO_SLOT answers per provider minute
}

func newAccount(a Account) *account {
	acc := &account{
		slots:    a.Slots,
		balance:  micros(a.Balance),
		pen:      newPenalties(),
		rejected: make(map[string]int),
		bans:     make(map[string]int),
	}
	if acc.slots == 0 {
		acc.slots = DefaultSlots
	}
	if a.Balance == 0 {
		acc.balance = micros(DefaultBalance)
	}
	return acc
}

// release drops the tasks solved by now, adding their solve time to the busy
// slot time, and returns the slots still held.
func (a *account) release(now time.Duration) int {
	kept := a.active[:0]
	for _, t := range a.active {
		if t.end() <= now {
			a.busy += t.solve
			continue
		}
		kept = append(kept, t)
	}
	clear(a.active[len(kept):]) // let the garbage collector have them
	a.active = kept
	return len(kept)
}

// busyAt returns the slot time used up to now: solved tasks in full, the
// tasks still held up to now.
func (a *account) busyAt(now time.Duration) time.Duration {
	a.release(now)
	busy := a.busy
	for _, t := range a.active {
		if now > t.at {
			busy += now - t.at
		}
	}
	return busy
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

	Slots        int           // the account's worker slots
	BusySlotTime time.Duration // slot time held by tasks so far
	Elapsed      time.Duration // since the provider started
	Balance      float64       // USD left

	// NoSlotPerMinute[i] is the NO_SLOT answers in provider minute i (from
	// i minutes to i+1 after the start): plot it against the 120 a minute
	// that triggers ERROR: 1001.
	NoSlotPerMinute []int
}

// Utilization returns BusySlotTime / (Slots x Elapsed): the share of the
// account's slot time that held a task. 0 when nothing has elapsed.
func (s Stats) Utilization() float64 {
	if s.Slots == 0 || s.Elapsed <= 0 {
		return 0
	}
	return float64(s.BusySlotTime) / (float64(s.Slots) * float64(s.Elapsed))
}

func (a *account) stats(now time.Duration) Stats {
	return Stats{
		Accepted:        a.accepted,
		Rejected:        maps.Clone(a.rejected),
		Polls:           a.polls,
		Bans:            maps.Clone(a.bans),
		MaxInFlight:     a.maxInFlight,
		Slots:           a.slots,
		BusySlotTime:    a.busyAt(now),
		Elapsed:         now,
		Balance:         float64(a.balance) / 1e6,
		NoSlotPerMinute: append([]int(nil), a.noSlotMin...),
	}
}
