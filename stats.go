package slotguard

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Stats is a snapshot of a Transport's counters, for dashboards.
type Stats struct {
	Submits  int64 // submit requests (RoundTrip calls for in.php or createTask)
	Attempts int64 // attempts sent to the provider, retries included
	Accepted int64 // submits the provider accepted (and billed)
	Retries  int64 // attempts that were retries
	// Answers counts the answers that were not an acceptance, by code
	// ("ERROR_NO_SLOT_AVAILABLE", "MAX_USER_TURN", "ERROR: 1001", ...);
	// answers slotguard cannot read count under "unreadable".
	Answers         map[string]int64
	TransportErrors int64 // attempts that failed without an answer
	FailedFast      int64 // submit attempts refused by the open breaker
	Breaker         gobreaker.State
	BreakerOpens    int64 // times the breaker opened on NO_SLOT answers
	InFlight        int64 // submit attempts in flight now
	// Rate is the pacer's current rate, attempts per second (it moves with
	// Adaptive and Schedule).
	Rate float64
	// NoSlotHeadroom and SubmitHeadroom are what the ban budget still
	// takes now: NO_SLOT answers this minute, submits these 3 seconds.
	NoSlotHeadroom int
	SubmitHeadroom int
	Polls          int64 // res.php polls paced (with Polls on)
	// SharedDown is true while a shared part (Config.Shared) is failing
	// and local limits stand in.
	SharedDown bool
	// The time spent waiting, by cause.
	PacerWait   time.Duration
	LimitWait   time.Duration // for the in-flight bound
	BackoffWait time.Duration
	BudgetWait  time.Duration // for the ban budget
	PollWait    time.Duration // for poll spacing and the poll budget
	ThreadWait  time.Duration // for a thread permit (with Threads on)
	// Threads are the thread permits' figures (with Threads on).
	Threads ThreadStats
	// ByType breaks the submits down by task type (TaskType): NO_SLOT is
	// per type, and so are the breaker's run of them (Breaker is the worst
	// of these, or a ban), the adaptive rate and the thread capacity
	// learned (with Threads on). Each of these keeps the first 32 types it
	// sees apart (they see types at different moments, so the map can
	// hold a few more names than 32, never more than 128).
	ByType map[string]TypeStats
}

// TypeStats are one task type's figures in Stats.
type TypeStats struct {
	Attempts int64 // attempts answered
	Accepted int64
	NoSlot   int64 // ERROR_NO_SLOT_AVAILABLE answers
	Breaker  gobreaker.State
	// Rate is the type's adaptive rate, attempts per second (with
	// Adaptive on; 0 otherwise): NO_SLOT slows the type that got it.
	Rate float64
	// Threads are the type's thread permits (with Threads on).
	Threads TypeThreads
}

// Stats returns a snapshot of the Transport's counters.
func (t *Transport) Stats() Stats {
	st := &t.stats
	noSlot, submits, _, _ := t.budget.headroom()
	return Stats{
		Rate:            t.rate(),
		NoSlotHeadroom:  noSlot,
		SubmitHeadroom:  submits,
		Polls:           st.polls.Load(),
		SharedDown:      t.downs.Load() > 0,
		BudgetWait:      time.Duration(st.budgetWait.Load()),
		PollWait:        time.Duration(st.pollWait.Load()),
		Submits:         st.submits.Load(),
		Attempts:        st.attempts.Load(),
		Accepted:        st.accepted.Load(),
		Retries:         st.retries.Load(),
		Answers:         st.answerCounts(),
		TransportErrors: st.transportErrors.Load(),
		FailedFast:      st.failedFast.Load(),
		Breaker:         t.breaker.state(),
		BreakerOpens:    t.breaker.opens.Load(),
		InFlight:        t.bound.inFlight.Load(),
		PacerWait:       time.Duration(st.pacerWait.Load()),
		LimitWait:       time.Duration(st.limitWait.Load()),
		BackoffWait:     time.Duration(st.backoffWait.Load()),
		ThreadWait:      time.Duration(st.threadWait.Load()),
		Threads:         t.threadStats(),
		ByType:          t.typeStats(),
	}
}

func (t *Transport) typeStats() map[string]TypeStats {
	st := &t.stats
	st.mu.Lock()
	m := make(map[string]TypeStats, len(st.byType))
	for typ, c := range st.byType {
		m[typ] = *c
	}
	st.mu.Unlock()
	for typ, s := range t.breaker.typeStates() {
		ts := m[typ]
		ts.Breaker = s
		m[typ] = ts
	}
	for typ, r := range t.rc.typeRates() {
		ts := m[typ]
		ts.Rate = r
		m[typ] = ts
	}
	if t.threads != nil {
		for typ, th := range t.threads.typeStats() {
			ts := m[typ]
			ts.Threads = th
			m[typ] = ts
		}
	}
	return m
}

func (t *Transport) threadStats() ThreadStats {
	if t.threads == nil {
		return ThreadStats{}
	}
	return t.threads.stats()
}

// counters are a Transport's Stats as they run.
type counters struct {
	submits, attempts, accepted, retries atomic.Int64
	transportErrors, failedFast          atomic.Int64
	pacerWait, limitWait, backoffWait    atomic.Int64 // nanoseconds
	budgetWait, pollWait, threadWait     atomic.Int64 // nanoseconds
	polls                                atomic.Int64
	mu                                   sync.Mutex
	answers                              map[string]int64
	byType                               map[string]*TypeStats // at most maxTypes
}

// countType counts an attempt's answer for its task type.
func (c *counters) countType(typ string, act action) {
	if typ == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ts, ok := c.byType[typ]
	if !ok {
		if len(c.byType) >= maxTypes {
			return
		}
		if c.byType == nil {
			c.byType = make(map[string]*TypeStats)
		}
		ts = &TypeStats{}
		c.byType[typ] = ts
	}
	ts.Attempts++
	switch act.verdict {
	case verdictAccepted:
		ts.Accepted++
	case verdictNoSlot:
		ts.NoSlot++
	}
}

// maxCodes bounds the distinct codes Stats.Answers keeps; later new ones
// count under "other", so a misbehaving server cannot grow it without end.
const maxCodes = 64

func (c *counters) count(act action) {
	if act.verdict == verdictAccepted {
		c.accepted.Add(1)
		return
	}
	code := act.code
	if code == "" {
		return // a non-2xx answer: not read
	}
	c.mu.Lock()
	if c.answers == nil {
		c.answers = make(map[string]int64)
	}
	if _, ok := c.answers[code]; !ok && len(c.answers) >= maxCodes {
		code = "other"
	}
	c.answers[code]++
	c.mu.Unlock()
}

func (c *counters) answerCounts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.answers))
	for k, v := range c.answers {
		m[k] = v
	}
	return m
}
