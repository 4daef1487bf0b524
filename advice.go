package slotguard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Advice answers "should I start a batch now, and at what rate?" from what
// the Transport already knows. CaptchaAI's guide suggests a small test
// submit before a big batch; that probe can be accepted and billed. Advice
// costs nothing: it reads the breaker, the ban budget's headroom, the share
// of recent submits that found no slot, the current rate and the hour, and
// with Config.Threads the thread permits: a batch may then start whenever
// the breaker and the budget allow, since its submits wait in line for a
// thread instead of spending attempts, and Advice says how long a new one
// would wait.
type Advice struct {
	// Go is true when a batch may start now.
	Go bool
	// Rate is the pace to start at, attempts per second (real time).
	Rate float64
	// Reason says why, in a sentence.
	Reason string
	// Band is the hour's part of CaptchaAI's published availability table.
	Band Band
	// Breaker is the breaker's state.
	Breaker gobreaker.State
	// NoSlotShare is the share of the last minute's answers that were
	// NO_SLOT, over Answers answers (0 when there were none).
	NoSlotShare float64
	Answers     int
	// NoSlotHeadroom is how many more NO_SLOT answers the ban budget takes
	// in the current minute.
	NoSlotHeadroom int
	// Threads are the thread permits' figures (with Config.Threads):
	// Threads.ExpectedWait is how long a new submit would wait for one.
	Threads ThreadStats
	// ByType are the figures by task type (Stats.ByType): while only some
	// types' breakers are open, Go is true for the others, and Reason
	// names the open ones; with Threads, Reason names the types whose
	// submits wait for their type's threads.
	ByType map[string]TypeStats
}

// openTypes lists, sorted, the types whose breaker is not closed.
func openTypes(by map[string]TypeStats) []string {
	var open []string
	for typ, s := range by {
		if s.Breaker != gobreaker.StateClosed {
			open = append(open, typ)
		}
	}
	slices.Sort(open)
	return open
}

// fullTypes lists, sorted, the types whose submits wait for a thread
// permit while their type's permits are all out: "recaptcha (4 of 4, 3
// waiting)". A submit of another type may go at once.
func fullTypes(by map[string]TypeStats) []string {
	var full []string
	for typ, s := range by {
		if th := s.Threads; th.Waiters > 0 && th.Held >= th.Limit {
			full = append(full, fmt.Sprintf("%s (%d of %d, %d waiting)", typ, th.Held, th.Limit, th.Waiters))
		}
	}
	slices.Sort(full)
	return full
}

// Advice tells whether to start a batch now. It sends nothing.
func (t *Transport) Advice() Advice {
	now := time.Now()
	headroom, _, share, answers := t.budget.headroom()
	a := Advice{
		Rate:           t.rate(),
		Band:           band(now.UTC().Hour()),
		Breaker:        t.breaker.state(),
		NoSlotShare:    share,
		Answers:        answers,
		NoSlotHeadroom: headroom,
	}
	a.Threads = t.threadStats()
	a.ByType = t.typeStats()
	line := t.budget.noSlotLine
	open := openTypes(a.ByType)
	switch {
	case a.Breaker != gobreaker.StateClosed && !t.breaker.banned(now) && len(open) > 0 && len(open) < len(a.ByType) &&
		t.breaker.cb.State() == gobreaker.StateClosed:
		// One type's workers are short: the others may go.
		a.Go = true
		a.Reason = "the breaker is open for " + strings.Join(open, ", ") + " only: other types may go"
	case a.Breaker != gobreaker.StateClosed:
		a.Reason = "the breaker is " + a.Breaker.String()
		if h := t.breaker.ban.Load(); t.breaker.banned(now) {
			a.Reason = fmt.Sprintf("the provider blocked the key (%s) until %s", h.code, h.until.UTC().Format(time.RFC3339))
		}
	case line != Unlimited && headroom < max(line/10, 1):
		a.Reason = fmt.Sprintf("%d NO_SLOT answers left under the ban line this minute", headroom)
	case t.threads != nil:
		// NO_SLOT answers are mostly the overbook's probes here, and
		// submits wait in line rather than retry: no reason to hold back.
		a.Go = true
		a.Reason = fmt.Sprintf("%d of %d thread permits held, %d submits waiting", a.Threads.Held, a.Threads.Limit, a.Threads.Waiters)
		if w := a.Threads.ExpectedWait; w > 0 {
			a.Reason += fmt.Sprintf("; a new submit would wait about %v", w.Round(time.Second))
		}
		if full := fullTypes(a.ByType); len(full) > 0 {
			a.Reason += "; waiting for their type's threads: " + strings.Join(full, ", ")
		}
	case answers >= 10 && share >= 0.8:
		a.Reason = fmt.Sprintf("%.0f%% of the last minute's submits found no free slot", 100*share)
	case a.Band == BandPeak && answers >= 10 && share >= 0.5:
		a.Reason = fmt.Sprintf("peak hours, and %.0f%% of the last minute's submits found no free slot", 100*share)
	default:
		a.Go = true
		a.Reason = fmt.Sprintf("%s hours; %d answers in the last minute, %.0f%% NO_SLOT", a.Band, answers, 100*share)
	}
	return a
}
