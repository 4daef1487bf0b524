package main

import (
	"cmp"
	"context"
	"flag"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// Open-loop demand (-arrivals, -deadline): tasks arrive at a rate whatever
// the solver does, as from a queue, instead of -workers closed loops that
// each wait for their task before the next. Each arrival is one goroutine
// that submits its task by the policy, and polls it once accepted.

// maxPending bounds the tasks of one run that have arrived and wait for
// acceptance: an arrival that finds maxPending of them is dropped, never
// submitted, and counted as missed. Without -deadline a policy that falls
// behind would otherwise gather goroutines for the whole run; at 2x the
// default account's capacity the backlog grows by about 1 a second, 600 in
// 10 minutes, under the cap.
const maxPending = 1000

// maxArrivals bounds -arrivals, in tasks per second.
const maxArrivals = 1000

// addArrivalFlags registers -arrivals and -deadline on fs.
func (w *workload) addArrivalFlags(fs *flag.FlagSet) {
	fs.Float64Var(&w.Arrivals, "arrivals", 0, "open-loop demand: tasks arrive at `R` per second of provider time (Poisson, seeded by -seed), each in its own goroutine, instead of -workers closed loops; 0: closed loops")
	fs.DurationVar(&w.Deadline, "deadline", 0, "with -arrivals: a task not accepted within `D` of its arrival (provider time) is missed and abandoned (its context cancelled); 0: no deadline")
}

// checkArrivals tells whether -arrivals and -deadline, as set on fs, make
// sense together and with -workers, naming the flag that does not.
func (w workload) checkArrivals(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["arrivals"] && !(w.Arrivals > 0 && w.Arrivals <= maxArrivals):
		return usageError("-arrivals %v: must be a rate above 0 and at most %d tasks per second", w.Arrivals, maxArrivals)
	case set["arrivals"] && set["workers"]:
		return usageError("-arrivals and -workers: give one or the other (open-loop arrivals, or closed-loop workers)")
	case set["deadline"] && w.Deadline <= 0:
		return usageError("-deadline %v: must be positive", w.Deadline)
	case set["deadline"] && !set["arrivals"]:
		return usageError("-deadline %v: needs -arrivals (closed-loop workers have no deadline)", w.Deadline)
	}
	return nil
}

// closedLoops is the number of closed-loop workers: none under -arrivals.
func (w workload) closedLoops() int {
	if w.Arrivals > 0 {
		return 0
	}
	return w.Workers
}

// arrivalSchedule draws the arrival times of a Poisson process of rate
// tasks per second: exponential gaps of mean 1/rate, from a generator of
// its own seeded by seed, so that every policy of a run (and every run with
// the same seed) faces the same arrivals.
type arrivalSchedule struct {
	r    *rand.Rand
	rate float64
	at   time.Duration
}

func newArrivalSchedule(seed uint64, rate float64) *arrivalSchedule {
	return &arrivalSchedule{r: rand.New(rand.NewPCG(seed, 0x3c6ef372fe94f82b)), rate: rate}
}

// next returns the next arrival's provider time.
func (s *arrivalSchedule) next() time.Duration {
	s.at += time.Duration(s.r.ExpFloat64() / s.rate * float64(time.Second))
	return s.at
}

// arrivalTimes returns the arrival times before end.
func arrivalTimes(seed uint64, rate float64, end time.Duration) []time.Duration {
	var ts []time.Duration
	s := newArrivalSchedule(seed, rate)
	for t := s.next(); t < end; t = s.next() {
		ts = append(ts, t)
	}
	return ts
}

// arrivalCounts is the accounting of the arrivals, from the tasks' side.
// Every arrival ends in exactly one of inTime, missed (late, abandoned,
// lost, dropped) or cutOff; arrived is counted apart, by the generator.
type arrivalCounts struct {
	arrived   atomic.Int64
	pending   atomic.Int64 // arrived, waiting for acceptance: the cap's count
	inTime    atomic.Int64 // accepted within -deadline (all accepted, without one)
	late      atomic.Int64 // accepted, but the answer came after the deadline
	abandoned atomic.Int64 // not accepted at the deadline: its context was cancelled
	lost      atomic.Int64 // given up by the policy before the deadline
	dropped   atomic.Int64 // found maxPending tasks waiting: never submitted
	cutOff    atomic.Int64 // still waiting when the run ended
}

func (c *arrivalCounts) missed() int64 {
	return c.late.Load() + c.abandoned.Load() + c.lost.Load() + c.dropped.Load()
}

// arrive is the open-loop demand: it starts one task per arrival of the
// run's schedule until the run ends, the tasks dealt out among the fleet's
// processes in turn. Each task runs in wg.
func (e *env) arrive(ctx context.Context, wg *sync.WaitGroup, submits []submitFunc) {
	s := newArrivalSchedule(e.w.Seed, e.w.Arrivals)
	draw := e.w.drawer(-1) // one stream for the arrivals, apart from any worker's
	win := e.w.outageWindow()
	for i := 0; ; i++ {
		at := s.next()
		if at >= e.w.Duration || e.clock.sleep(ctx, at-e.clock.now()) != nil {
			return
		}
		// Drawn before the cap's check: a dropped arrival uses its draw, so
		// that every policy's k-th arrival is of the same method.
		submit, m := submits[i%len(submits)], draw()
		e.arr.arrived.Add(1)
		if at >= win[0] && at < win[1] {
			e.rec.arrivedDuringOutage(m)
		}
		if e.arr.pending.Add(1) > maxPending {
			e.arr.pending.Add(-1)
			e.arr.dropped.Add(1)
			continue
		}
		wg.Go(func() { e.task(ctx, submit, m, at) })
	}
}

// task submits one task of method that arrived at provider time arrival, abandons it
// at its deadline, and polls it once accepted. A task accepted after its
// deadline (its answer came as the context was cancelled) is missed, yet
// polled all the same: the provider solves and bills it whatever the
// client thinks, and a thread permit comes back only when a poll sees it
// end. A submit abandoned mid-flight may have been accepted unseen: the
// provider's billed count, not the client's, says so (billed_missed).
func (e *env) task(ctx context.Context, submit submitFunc, method string, arrival time.Duration) {
	sctx := ctx
	if e.w.Deadline > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, e.clock.start.Add(e.clock.real(arrival+e.w.Deadline)))
		defer cancel()
	}
	out := submit(withMethod(sctx, method))
	now := e.clock.now()
	e.arr.pending.Add(-1)
	inTime := e.w.Deadline <= 0 || now-arrival <= e.w.Deadline
	switch {
	case ctx.Err() != nil || now >= e.w.Duration:
		e.arr.cutOff.Add(1) // the run ended before the task's fate was known
		return
	case out.id != "" && inTime:
		e.arr.inTime.Add(1)
		e.rec.accepted(method, now-arrival)
	case out.id != "":
		e.arr.late.Add(1)
	case sctx.Err() != nil:
		e.arr.abandoned.Add(1)
		return
	default:
		e.arr.lost.Add(1)
		e.rec.lost(method, out.reason)
		return
	}
	if e.poll(ctx, out.id, cmp.Or(out.polls, e.plain)) && out.ended != nil {
		out.ended()
	}
}

// ArrivalStats are the open-loop figures of one policy's run: in the JSON
// only under -arrivals. Exported, so that a result's JSON reads back into
// it: encoding/json cannot fill an embedded pointer to an unexported type.
type ArrivalStats struct {
	Arrived      int     `json:"arrived"` // tasks that arrived within the run
	InTime       int     `json:"accepted_in_time"`
	Missed       int     `json:"missed"`    // not accepted within -deadline: late, abandoned, lost or dropped
	Late         int     `json:"late"`      // accepted, the answer after the deadline
	Abandoned    int     `json:"abandoned"` // cancelled at the deadline before acceptance
	Dropped      int     `json:"dropped"`   // never submitted: maxPending tasks were waiting
	ArrCutOff    int     `json:"arrivals_cut_off"`
	MissedShare  float64 `json:"missed_share"` // missed / (accepted in time + missed)
	AcceptP50    float64 `json:"accept_p50_s"` // from arrival to acceptance, tasks accepted in time; seconds
	AcceptP99    float64 `json:"accept_p99_s"`
	BilledMissed int     `json:"billed_missed"` // billed by the provider, not accepted in time by the client
}

// arrivalResult returns the run's open-loop figures, nil without
// -arrivals; lat is the sorted time to acceptance of the tasks accepted in
// time, st the provider's stats at the run's end.
func (e *env) arrivalResult(st captchaaitest.Stats, lat []time.Duration) *ArrivalStats {
	if e.w.Arrivals <= 0 {
		return nil
	}
	c := &e.arr
	a := &ArrivalStats{
		Arrived:      int(c.arrived.Load()),
		InTime:       int(c.inTime.Load()),
		Missed:       int(c.missed()),
		Late:         int(c.late.Load()),
		Abandoned:    int(c.abandoned.Load()),
		Dropped:      int(c.dropped.Load()),
		ArrCutOff:    int(c.cutOff.Load()),
		AcceptP50:    quantile(lat, 0.50).Seconds(),
		AcceptP99:    quantile(lat, 0.99).Seconds(),
		BilledMissed: max(st.Accepted-int(c.inTime.Load()), 0),
	}
	if n := a.InTime + a.Missed; n > 0 {
		a.MissedShare = float64(a.Missed) / float64(n)
	}
	return a
}
