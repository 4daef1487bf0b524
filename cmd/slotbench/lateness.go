package main

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// A run compresses provider time by -speed: at x150 a timer that wakes 1 ms
// late in real time wakes 150 ms late in provider time, and a late sleep is
// a late submit or a late poll. On a busy machine that moves the figures
// (issue 16: guide-batch 82.6 % instead of 87.3 % on the same seed), and
// nothing in the table told such a run from a good one. So the clock's
// sleeps (every wait of the workers and of the hand-written loops) note
// how late they woke against provider time, and the run warns when that
// could move its figures.

// lateness collects how late a run's clock sleeps woke, in provider time:
// a histogram with four buckets an octave from 1 ms up, so that the cost is
// a lock and an increment per sleep and the memory fixed, whatever the run.
// Quantiles are read as their bucket's upper edge (within 19 %), capped by
// the exact maximum, and as 0 in bucket 0 (on time, within 1 ms). The zero value is ready to use.
type lateness struct {
	mu      sync.Mutex
	buckets [latenessBuckets]int
	n       int
	sum     time.Duration
	max     time.Duration

	// delay is real time added to every wake: tests make timers late with
	// it. 0 in the command.
	delay time.Duration
}

const (
	latenessBuckets = 100              // 1 ms to 2^(99/4) ms, about 6 provider hours
	latenessFloor   = time.Millisecond // bucket 0: on time, within this
)

// bucketOf returns the bucket of a lateness d.
func bucketOf(d time.Duration) int {
	if d <= latenessFloor {
		return 0
	}
	i := int(math.Ceil(4 * math.Log2(float64(d)/float64(latenessFloor))))
	return min(max(i, 1), latenessBuckets-1)
}

// upperEdge is the most lateness bucket i holds.
func upperEdge(i int) time.Duration {
	return time.Duration(float64(latenessFloor) * math.Exp2(float64(i)/4))
}

// woke notes a sleep meant to end at provider time want that ended at got.
func (l *lateness) woke(want, got time.Duration) {
	d := max(got-want, 0)
	l.mu.Lock()
	l.buckets[bucketOf(d)]++
	l.n++
	l.sum += d
	l.max = max(l.max, d)
	l.mu.Unlock()
}

// latenessStats is how late a run's timers woke, provider time.
type latenessStats struct {
	Sleeps int     `json:"sleeps"` // sleeps that woke (not cut short by the run's end)
	Mean   float64 `json:"mean_s"` // seconds, exact
	P50    float64 `json:"p50_s"`  // seconds, within 19 % (4 buckets an octave)
	P99    float64 `json:"p99_s"`
	Max    float64 `json:"max_s"` // exact
}

// stats returns the quantiles so far.
func (l *lateness) stats() latenessStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := func(p float64) float64 {
		rank := int(math.Ceil(p * float64(l.n)))
		seen := 0
		for i, c := range l.buckets {
			switch seen += c; {
			case seen < rank || c == 0:
			case i == 0:
				return 0 // on time
			default:
				return min(upperEdge(i), l.max).Seconds()
			}
		}
		return l.max.Seconds()
	}
	if l.n == 0 {
		return latenessStats{}
	}
	mean := (l.sum / time.Duration(l.n)).Seconds()
	return latenessStats{Sleeps: l.n, Mean: mean, P50: q(0.50), P99: q(0.99), Max: l.max.Seconds()}
}

// lateBar is the mean provider time the sleeps may wake late before the
// run warns: 4 % of the workers' poll interval (-poll, 5 s), 200 ms by
// default. The workers and the guides' loops live in steps of about that
// length (polls every 5 s, the guides' NO_SLOT waits of 3 to 5 s, the
// pause after a task given up), and a loop whose steps all wake m late
// runs at step/(step+m) of its pace. The bar comes from runs set against
// the same seeds in virtual time, where no timer is late: at a mean of
// about 110 ms (x150 on a quiet 2-core machine; Go's timers wake a
// fraction of a millisecond late even there) no figure moved past its
// spread of 3 runs, while at 394 ms (x150 under a load of 4)
// slotguard-adaptive lost 1.6 points of utilisation and slotguard 0.7,
// past their spreads (on the busy machine, guide-batch fell from
// 87.3 % to 82.6 %). The mean, not the p99: a rare late wake costs a loop
// one step, a steady one every step.
func lateBar(w workload) time.Duration {
	return time.Duration(0.04 * float64(w.PollEvery))
}

func latenessWarning(w workload, results []result) string {
	worst := -1
	for i, r := range results {
		if worst < 0 || r.TimerLateness.Mean > results[worst].TimerLateness.Mean {
			worst = i
		}
	}
	bar := lateBar(w)
	if worst < 0 || results[worst].TimerLateness.Mean <= bar.Seconds() {
		return ""
	}
	r := results[worst]
	// Lateness in provider time is the real lateness times -speed: the
	// speed that would bring this mean to half the bar, at least 1.
	speed := max(1, math.Floor(w.Speed*bar.Seconds()/(2*r.TimerLateness.Mean)))
	if speed > 10 {
		speed = 10 * math.Floor(speed/10) // a round figure to type
	}
	return fmt.Sprintf("warning: timers woke late (%s: mean %v, p99 %v of provider time; more than %v on average, "+
		"4%% of -poll, the step the workers keep): the figures may be off by the machine's load; "+
		"run again with a lower -speed (e.g. -speed %g) or on a quieter machine",
		r.Policy, roundDur(r.TimerLateness.Mean), roundDur(r.TimerLateness.P99), bar, speed)
}

// latenessLine is the table's footer line on the timers.
func latenessLine(w workload, results []result) string {
	var mean, p50, p99, mx float64
	for _, r := range results {
		l := r.TimerLateness
		mean, p50, p99, mx = max(mean, l.Mean), max(p50, l.P50), max(p99, l.P99), max(mx, l.Max)
	}
	s := fmt.Sprintf("(timers: sleeps woke late by mean %v, p50 %v, p99 %v, max %v of provider time, the worst policy's each; warning past a mean of %v)",
		roundDur(mean), roundDur(p50), roundDur(p99), roundDur(mx), lateBar(w))
	if warn := latenessWarning(w, results); warn != "" {
		s += "\n" + warn
	}
	return s
}

// roundDur prints seconds as a duration to the millisecond.
func roundDur(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// woke notes, after a sleep's timer fired, how late against want (provider
// time) it woke; with the tests' delay, it wakes that much later first.
func (c clock) woke(want time.Duration) {
	if c.late == nil {
		return
	}
	if c.late.delay > 0 {
		time.Sleep(c.late.delay)
	}
	c.late.woke(want, c.now())
}
