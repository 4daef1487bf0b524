package slotguard

import (
	"cmp"
	"context"
	"sync"
	"time"
)

// The ban budget's default lines, a margin below the provider's: 120
// NO_SLOT answers a minute (ERROR: 1001) and 60 submits in 3 s
// (MAX_USER_TURN).
const (
	DefaultNoSlotPerMinute = 110
	DefaultSubmitsPer3s    = 50
)

// BudgetConfig sets the lines the local ban budget keeps the Transport's
// submits under, each a margin below a line where the provider blocks the
// key. Near a line the next attempt waits, cancellably, until the window
// has room again; it is never refused.
type BudgetConfig struct {
	// NoSlotPerMinute bounds NO_SLOT answers in any rolling minute,
	// counting every attempt still waiting for its answer as a possible
	// one, so the line is never crossed even by attempts in flight. The
	// provider blocks the key for 10 minutes at 120 (ERROR: 1001), and for
	// 30 s when NO_SLOT answers reach 3 x the captchas sent, with a floor
	// of 120 (ERROR: 1003): under this line, neither can happen. 0: 110.
	// Unlimited: no bound.
	NoSlotPerMinute int
	// SubmitsPer3s bounds submit attempts in any rolling 3 seconds. The
	// provider answers MAX_USER_TURN past 60. 0: 50. Unlimited: no bound.
	SubmitsPer3s int
}

func (c BudgetConfig) validate(name string) error {
	switch {
	case c.NoSlotPerMinute < 0:
		return fieldError(name+".NoSlotPerMinute", c.NoSlotPerMinute, "must not be negative (Unlimited switches it off)")
	case c.SubmitsPer3s < 0:
		return fieldError(name+".SubmitsPer3s", c.SubmitsPer3s, "must not be negative (Unlimited switches it off)")
	}
	return nil
}

// window counts events in a rolling window of n buckets, plus one: an event
// is counted for at least the window's span and at most one bucket longer,
// so the count errs on the safe side of the provider's line.
type window struct {
	buckets []int
	width   time.Duration // of one bucket
	head    int64         // index of the newest bucket, in widths since the epoch
	sum     int
}

func newWindow(span time.Duration, n int) window {
	return window{buckets: make([]int, n+1), width: max(span/time.Duration(n), 1)}
}

// advance drops the buckets that have left the window by now.
func (w *window) advance(now time.Time) {
	idx := now.UnixNano() / int64(w.width)
	n := int64(len(w.buckets))
	if idx-w.head >= n { // everything counted is old
		clear(w.buckets)
		w.sum, w.head = 0, idx
		return
	}
	for w.head < idx {
		w.head++
		b := &w.buckets[w.head%n]
		w.sum -= *b
		*b = 0
	}
}

func (w *window) add(now time.Time, k int) {
	w.advance(now)
	w.buckets[w.head%int64(len(w.buckets))] += k
	w.sum += k
}

// untilFree is how long until the oldest counted bucket leaves the window.
func (w *window) untilFree(now time.Time) time.Duration {
	n := int64(len(w.buckets))
	for i := w.head - n + 1; i <= w.head; i++ {
		if w.buckets[i%n] != 0 {
			return time.Unix(0, (i+n)*int64(w.width)).Sub(now)
		}
	}
	return w.width
}

// localBudget is the Transport's own ban budget.
type localBudget struct {
	noSlotLine, submitLine int

	mu      sync.Mutex
	noSlot  window        // NO_SLOT answers, last minute
	answers window        // all answers, last minute
	submits window        // attempts sent, last 3 s
	pending int           // admitted, no outcome yet
	freed   chan struct{} // closed and replaced at an outcome, if waited on
	waited  bool
	last    time.Time // of the last admission
}

func newLocalBudget(c BudgetConfig, scale float64) *localBudget {
	return &localBudget{
		noSlotLine: cmp.Or(c.NoSlotPerMinute, DefaultNoSlotPerMinute),
		submitLine: cmp.Or(c.SubmitsPer3s, DefaultSubmitsPer3s),
		freed:      make(chan struct{}),
		noSlot:     newWindow(scaled(time.Minute, scale), 60),
		answers:    newWindow(scaled(time.Minute, scale), 60),
		submits:    newWindow(scaled(3*time.Second, scale), 30),
	}
}

// Admit implements Budget.
func (b *localBudget) Admit(ctx context.Context) error {
	for {
		wait, freed := b.tryAdmit(time.Now())
		if wait == 0 {
			return nil
		}
		var timer *time.Timer
		var expired <-chan time.Time // nil: only an answer frees room
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-expired:
		case <-freed:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// tryAdmit admits an attempt now (0), or says how long to wait before
// trying again (-1: until an answer comes), and a channel closed when an
// outcome frees room sooner.
func (b *localBudget) tryAdmit(now time.Time) (time.Duration, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.noSlot.advance(now)
	b.submits.advance(now)
	b.waited = true // unless admitted below
	switch {
	case b.noSlotLine != Unlimited && b.noSlot.sum+b.pending >= b.noSlotLine:
		if b.noSlot.sum == 0 {
			// Every counted one is still in flight: only an answer
			// frees room.
			return -1, b.freed
		}
		return b.noSlot.untilFree(now), b.freed
	case b.submitLine != Unlimited && b.submits.sum >= b.submitLine:
		return b.submits.untilFree(now), b.freed
	}
	b.waited = false
	b.last = now
	b.pending++
	b.submits.add(now, 1)
	return 0, nil
}

// Done implements Budget.
func (b *localBudget) Done(_ context.Context, o Outcome) {
	b.mu.Lock()
	b.pending--
	if o == OutcomeNoSlot || o == OutcomeLost {
		// The answer's own time: the provider counts it from now. A lost
		// answer may have been a NO_SLOT the provider counted: counted
		// as one, so that a run of lost answers cannot pass the line.
		now := time.Now()
		b.noSlot.add(now, 1)
		b.answers.add(now, 1)
	} else if o != OutcomeUnknown {
		// For the NO_SLOT share alone the last admission's time will do,
		// and saves a clock reading on the hot path.
		b.answers.add(b.last, 1)
	}
	if b.waited {
		// Wake the waiters: room may have freed, or a NO_SLOT now gives
		// them a time to wait for.
		close(b.freed)
		b.freed, b.waited = make(chan struct{}), false
	}
	b.mu.Unlock()
}

// headroom reports how many more NO_SLOT answers and submits the windows
// take now, and the share of the last minute's answers that were NO_SLOT.
func (b *localBudget) headroom() (noSlot, submits int, share float64, answers int) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.noSlot.advance(now)
	b.submits.advance(now)
	b.answers.advance(now)
	if answers = b.answers.sum; answers > 0 {
		share = float64(b.noSlot.sum) / float64(answers)
	}
	noSlot, submits = Unlimited, Unlimited
	if b.noSlotLine != Unlimited {
		noSlot = max(0, b.noSlotLine-b.noSlot.sum-b.pending)
	}
	if b.submitLine != Unlimited {
		submits = max(0, b.submitLine-b.submits.sum)
	}
	return noSlot, submits, share, answers
}
