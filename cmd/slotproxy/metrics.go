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
	"github.com/slotguard/slotguard/promguard"
)

// metrics is the proxy's Prometheus registry: slotguard's counters
// (slotguard_*, promguard's collector, which reads Transport.Stats at
// scrape time), the proxy's requests (slotproxy_*), and the Go runtime and
// process collectors.
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
	reg.MustRegister(promguard.New(tr, promguard.Options{}), m.requests, m.errors, m.refusals, m.duration, heldGauge,
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
