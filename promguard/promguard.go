package promguard

import (
	"cmp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slotguard/slotguard"
	"github.com/sony/gobreaker/v2"
)

// Options configure a collector. The zero value is useful: names start
// with "slotguard_" and carry no constant labels.
type Options struct {
	// Namespace is the first part of every metric name, before "_".
	// "": "slotguard", the names cmd/slotproxy serves.
	Namespace string
	// ConstLabels are added to every metric, e.g. {"account": "batch"}
	// to tell several Transports in one registry apart. nil: none.
	ConstLabels prometheus.Labels
}

// New returns a collector of t's Stats, read at each scrape. Register it
// once per Transport; two collectors in one registry need ConstLabels
// that tell them apart, or the registry refuses the second.
func New(t *slotguard.Transport, opts Options) prometheus.Collector {
	ns := cmp.Or(opts.Namespace, "slotguard")
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_"+name, help, labels, opts.ConstLabels)
	}
	return &collector{
		tr:              t,
		submits:         d("submits_total", "Submit requests (in.php, createTask) received."),
		attempts:        d("attempts_total", "Submit attempts sent to the provider, retries included."),
		accepted:        d("accepted_total", "Submits the provider accepted (and billed)."),
		retries:         d("retries_total", "Submit attempts that were retries."),
		answers:         d("answers_total", "Submit answers that were not an acceptance, by the provider's code (ERROR_NO_SLOT_AVAILABLE, MAX_USER_TURN, ERROR: 1001, ...; unreadable).", "code"),
		transportErrors: d("transport_errors_total", "Submit attempts that failed without an answer (never retried)."),
		failedFast:      d("failed_fast_total", "Submit attempts refused by the open breaker, without a request."),
		breaker:         d("breaker_state", "1 for the breaker's current state, 0 for the others.", "state"),
		breakerOpens:    d("breaker_opens_total", "Times the breaker opened on NO_SLOT answers."),
		inFlight:        d("in_flight", "Submit attempts in flight now."),
		rate:            d("rate", "The pacer's current rate, submit attempts per second."),
		waits:           d("wait_seconds_total", "Time requests spent waiting, by cause: pacer, limit (in-flight bound), backoff, budget (ban budget), poll (poll pacing), thread (thread permits).", "cause"),
		noSlotHeadroom:  d("no_slot_headroom", "NO_SLOT answers the ban budget still takes this minute."),
		submitHeadroom:  d("submit_headroom", "Submits the ban budget still takes these 3 seconds."),
		polls:           d("polls_total", "res.php polls paced (with poll pacing on)."),
		sharedDown:      d("shared_down", "1 while a shared part is failing and local limits stand in."),
		held:            d("thread_permits_held", "Thread permits out: submits under way and tasks in flight."),
		tasks:           d("thread_tasks", "Thread permits held by tasks accepted (or maybe accepted) and not seen to end."),
		capacity:        d("thread_capacity", "The account's threads: the plan, or as learned from NO_SLOT answers."),
		limit:           d("thread_limit", "Thread permits allowed: the capacity plus the overbook."),
		waiters:         d("thread_waiters", "Submits waiting for a thread permit."),
		expectedWait:    d("thread_expected_wait_seconds", "How long a new submit would wait for a thread permit at the recent pace of releases; -1: no pace to go by yet."),
		typeAttempts:    d("type_attempts_total", "Submit attempts answered, by task type (slotguard.TaskType: image, recaptcha, ...; at most 32 types).", "type"),
		typeAccepted:    d("type_accepted_total", "Submits the provider accepted, by task type.", "type"),
		typeNoSlot:      d("type_no_slot_total", "ERROR_NO_SLOT_AVAILABLE answers, by task type: NO_SLOT is per type.", "type"),
		typeBreaker:     d("type_breaker_state", "1 for the state of each task type's breaker run, 0 for the others.", "type", "state"),
		typeRate:        d("type_rate", "Each task type's adaptive rate, submit attempts per second (with adaptive pacing on).", "type"),
		typeHeld:        d("type_thread_permits_held", "Thread permits out by task type: submits under way and tasks in flight.", "type"),
		typeCapacity:    d("type_thread_capacity", "The threads learned for each task type's workers (never above the plan).", "type"),
		typeLimit:       d("type_thread_limit", "Thread permits allowed by task type: its capacity plus the overbook.", "type"),
		typeWaiters:     d("type_thread_waiters", "Submits waiting for a thread permit, by task type.", "type"),
		releases:        d("thread_releases_total", "Thread permits given back, by reason: not_accepted (the submit ended without acceptance), polled (a poll saw the task end), explicit (TaskDone), ceiling (held too long).", "reason"),
	}
}

// collector exports a Transport's Stats.
type collector struct {
	tr *slotguard.Transport

	submits, attempts, accepted, retries, answers, transportErrors *prometheus.Desc
	failedFast, breaker, breakerOpens, inFlight, rate, waits       *prometheus.Desc
	noSlotHeadroom, submitHeadroom, polls, sharedDown              *prometheus.Desc
	held, tasks, capacity, limit, waiters, expectedWait, releases  *prometheus.Desc
	typeAttempts, typeAccepted, typeNoSlot, typeBreaker, typeRate  *prometheus.Desc
	typeHeld, typeCapacity, typeLimit, typeWaiters                 *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.submits, c.attempts, c.accepted, c.retries, c.answers, c.transportErrors,
		c.failedFast, c.breaker, c.breakerOpens, c.inFlight, c.rate, c.waits,
		c.noSlotHeadroom, c.submitHeadroom, c.polls, c.sharedDown,
		c.held, c.tasks, c.capacity, c.limit, c.waiters, c.expectedWait, c.releases,
		c.typeAttempts, c.typeAccepted, c.typeNoSlot, c.typeBreaker, c.typeRate,
		c.typeHeld, c.typeCapacity, c.typeLimit, c.typeWaiters,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.tr.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.submits, float64(st.Submits))
	counter(c.attempts, float64(st.Attempts))
	counter(c.accepted, float64(st.Accepted))
	counter(c.retries, float64(st.Retries))
	if _, ok := st.Answers[slotguard.CodeNoSlot]; !ok {
		counter(c.answers, 0, slotguard.CodeNoSlot) // there from the first scrape, for rate()
	}
	for code, n := range st.Answers {
		counter(c.answers, float64(n), code)
	}
	counter(c.transportErrors, float64(st.TransportErrors))
	counter(c.failedFast, float64(st.FailedFast))
	for _, s := range []gobreaker.State{gobreaker.StateClosed, gobreaker.StateHalfOpen, gobreaker.StateOpen} {
		gauge(c.breaker, b2f(st.Breaker == s), s.String())
	}
	counter(c.breakerOpens, float64(st.BreakerOpens))
	gauge(c.inFlight, float64(st.InFlight))
	gauge(c.rate, st.Rate)
	for _, w := range []struct {
		cause string
		d     time.Duration
	}{
		{"pacer", st.PacerWait}, {"limit", st.LimitWait}, {"backoff", st.BackoffWait},
		{"budget", st.BudgetWait}, {"poll", st.PollWait}, {"thread", st.ThreadWait},
	} {
		counter(c.waits, w.d.Seconds(), w.cause)
	}
	gauge(c.noSlotHeadroom, float64(st.NoSlotHeadroom))
	gauge(c.submitHeadroom, float64(st.SubmitHeadroom))
	counter(c.polls, float64(st.Polls))
	gauge(c.sharedDown, b2f(st.SharedDown))
	c.collectTypes(st.ByType, counter, gauge)
	if st.Threads.Limit > 0 { // Config.Threads off: the limit is at least 1 when on
		c.collectThreads(st, counter, gauge)
	}
}

// collectThreads exports the thread permits' figures, key-wide and by type.
func (c *collector) collectThreads(st slotguard.Stats, counter, gauge func(*prometheus.Desc, float64, ...string)) {
	th := st.Threads
	gauge(c.held, float64(th.Held))
	gauge(c.tasks, float64(th.Tasks))
	gauge(c.capacity, float64(th.Capacity))
	gauge(c.limit, float64(th.Limit))
	gauge(c.waiters, float64(th.Waiters))
	wait := th.ExpectedWait.Seconds()
	if th.ExpectedWait < 0 {
		wait = -1 // Stats' -1 ns: no pace to go by yet
	}
	gauge(c.expectedWait, wait)
	for _, r := range []struct {
		reason string
		n      int64
	}{
		{"not_accepted", th.NotAccepted}, {"polled", th.Polled}, {"explicit", th.Explicit}, {"ceiling", th.Ceiling},
	} {
		counter(c.releases, float64(r.n), r.reason)
	}
	for typ, ts := range st.ByType {
		if ts.Threads.Limit == 0 {
			continue // no permit taken for the type yet
		}
		gauge(c.typeHeld, float64(ts.Threads.Held), typ)
		gauge(c.typeCapacity, float64(ts.Threads.Capacity), typ)
		gauge(c.typeLimit, float64(ts.Threads.Limit), typ)
		gauge(c.typeWaiters, float64(ts.Threads.Waiters), typ)
	}
}

// collectTypes exports the figures by task type. Their count is bounded
// by the Transport (32 types), so the label's cardinality is too.
func (c *collector) collectTypes(by map[string]slotguard.TypeStats, counter, gauge func(*prometheus.Desc, float64, ...string)) {
	for typ, ts := range by {
		counter(c.typeAttempts, float64(ts.Attempts), typ)
		counter(c.typeAccepted, float64(ts.Accepted), typ)
		counter(c.typeNoSlot, float64(ts.NoSlot), typ)
		for _, s := range []gobreaker.State{gobreaker.StateClosed, gobreaker.StateHalfOpen, gobreaker.StateOpen} {
			gauge(c.typeBreaker, b2f(ts.Breaker == s), typ, s.String())
		}
		if ts.Rate > 0 {
			gauge(c.typeRate, ts.Rate, typ)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
