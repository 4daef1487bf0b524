package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/slotguard/slotguard"
	"github.com/sony/gobreaker/v2"
)

// metrics is the proxy's Prometheus registry: slotguard's counters, read
// from Transport.Stats at scrape time, the proxy's requests, and the Go
// runtime and process collectors.
type metrics struct {
	http.Handler
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	refusals *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(tr *slotguard.Transport, held *heldBytes) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotproxy_requests_total",
			Help: "Requests through the proxy, by provider endpoint and the HTTP status answered (499: the client went away first).",
		}, []string{"endpoint", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotproxy_errors_total",
			Help: "Answers in the proxy's own words (X-Slotproxy-Error) and answers cut off, by provider endpoint, " +
				"whose failure it was and kind (the X-Slotproxy-Error value). side=client: the client's own " +
				"(it went away, stalled, sent too much); side=proxy: refused, nothing sent, safe to send again; " +
				"side=upstream: the request left and the provider failed or was too slow: on in.php and " +
				"createTask, the task may have been accepted and billed.",
		}, []string{"endpoint", "side", "kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotproxy_refusals_total",
			Help: "Submits the proxy refused unsent in the provider's dialect (-refusal dialect), by provider endpoint, " +
				"kind (the X-Slotproxy-Error value: not-sent, circuit-open, queue-full) and the provider's code answered " +
				"(ERROR_NO_SLOT_AVAILABLE, or the ban that holds the breaker open). Apart from slotguard_answers_total, " +
				"which counts what the provider answered.",
		}, []string{"endpoint", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slotproxy_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer's end, slotguard's waits included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"endpoint"}),
	}
	heldGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slotproxy_request_bytes_held",
		Help: "Request body bytes the requests inside the proxy hold now, bounded by -max-queued-bytes.",
	}, func() float64 { return float64(held.n.Load()) })
	reg.MustRegister(newCollector(tr), m.requests, m.errors, m.refusals, m.duration, heldGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// observe counts one request through the proxy.
func (m *metrics) observe(path string, rec *recorder, took time.Duration) {
	ep := endpoint(path)
	status := rec.status
	if status == 0 {
		status = statusClientGone // nothing was written
	}
	m.requests.WithLabelValues(ep, strconv.Itoa(status)).Inc()
	if rec.kind != "" {
		m.errors.WithLabelValues(ep, rec.side, rec.kind).Inc()
	}
	if rec.refused != "" {
		m.refusals.WithLabelValues(ep, rec.kind, rec.refused).Inc()
	}
	m.duration.WithLabelValues(ep).Observe(took.Seconds())
}

// endpoint names the provider's API call of path, with few values, so
// that the label set stays small whatever clients send.
func endpoint(path string) string {
	for _, e := range []string{"in.php", "res.php", "createTask", "getTaskResult", "getBalance"} {
		if strings.HasSuffix(path, "/"+e) {
			return e
		}
	}
	return "other"
}

// collector exports a Transport's Stats. It reads them when scraped, so
// the values are never stale and nothing runs between scrapes.
type collector struct {
	tr *slotguard.Transport

	submits, attempts, accepted, retries, answers, transportErrors *prometheus.Desc
	failedFast, breaker, breakerOpens, inFlight, rate, waits       *prometheus.Desc
	noSlotHeadroom, submitHeadroom, polls, sharedDown              *prometheus.Desc
}

func newCollector(tr *slotguard.Transport) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("slotguard_"+name, help, labels, nil)
	}
	return &collector{
		tr:              tr,
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
		waits:           d("wait_seconds_total", "Time requests spent waiting, by cause: pacer, limit (in-flight bound), backoff, budget (ban budget), poll.", "cause"),
		noSlotHeadroom:  d("no_slot_headroom", "NO_SLOT answers the ban budget still takes this minute."),
		submitHeadroom:  d("submit_headroom", "Submits the ban budget still takes these 3 seconds."),
		polls:           d("polls_total", "res.php polls paced (with -pace-polls)."),
		sharedDown:      d("shared_down", "1 while a shared part is failing and local limits stand in."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.submits, c.attempts, c.accepted, c.retries, c.answers, c.transportErrors,
		c.failedFast, c.breaker, c.breakerOpens, c.inFlight, c.rate, c.waits,
		c.noSlotHeadroom, c.submitHeadroom, c.polls, c.sharedDown,
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
	for cause, d := range map[string]time.Duration{
		"pacer": st.PacerWait, "limit": st.LimitWait, "backoff": st.BackoffWait,
		"budget": st.BudgetWait, "poll": st.PollWait,
	} {
		counter(c.waits, d.Seconds(), cause)
	}
	gauge(c.noSlotHeadroom, float64(st.NoSlotHeadroom))
	gauge(c.submitHeadroom, float64(st.SubmitHeadroom))
	counter(c.polls, float64(st.Polls))
	gauge(c.sharedDown, b2f(st.SharedDown))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
