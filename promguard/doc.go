// Package promguard exports a slotguard Transport's Stats to Prometheus.
// Register one collector per Transport:
//
//	tr, err := slotguard.New(nil, slotguard.Config{})
//	...
//	prometheus.MustRegister(promguard.New(tr, promguard.Options{}))
//	http.Handle("/metrics", promhttp.Handler())
//
// The collector reads Transport.Stats when scraped, so the values are never
// stale and nothing runs between scrapes. It lives in its own module so that
// slotguard itself never imports client_golang; cmd/slotproxy serves the same
// metrics at its /metrics.
//
// # Metrics
//
// Every name starts with Options.Namespace ("slotguard" by default):
//
//	slotguard_submits_total                  counter  submit requests (in.php, createTask)
//	slotguard_attempts_total                 counter  attempts sent, retries included
//	slotguard_accepted_total                 counter  submits accepted (and billed)
//	slotguard_retries_total                  counter  attempts that were retries
//	slotguard_answers_total{code}            counter  answers other than an acceptance, by code
//	slotguard_transport_errors_total         counter  attempts without an answer
//	slotguard_failed_fast_total              counter  attempts refused by the open breaker
//	slotguard_breaker_state{state}           gauge    1 for the current state (closed, half-open, open)
//	slotguard_breaker_opens_total            counter  breaker openings
//	slotguard_in_flight                      gauge    submit attempts in flight
//	slotguard_rate                           gauge    the pacer's rate, attempts per second
//	slotguard_wait_seconds_total{cause}      counter  time waited: pacer, limit, backoff, budget, poll, thread
//	slotguard_no_slot_headroom               gauge    NO_SLOT answers the ban budget still takes this minute
//	slotguard_submit_headroom                gauge    submits the ban budget still takes these 3 s
//	slotguard_polls_total                    counter  res.php polls paced
//	slotguard_shared_down                    gauge    1 while a shared part fails
//
// by task type (slotguard.TaskType: image, recaptcha, hcaptcha, ...; the
// Transport keeps at most 32 types, so the label's values are bounded):
//
//	slotguard_type_attempts_total{type}      counter  attempts answered
//	slotguard_type_accepted_total{type}      counter  submits accepted
//	slotguard_type_no_slot_total{type}       counter  NO_SLOT answers: a type's workers are short
//	slotguard_type_breaker_state{type,state} gauge    1 for the type's breaker run's state
//	slotguard_type_rate{type}                gauge    the type's adaptive rate (with Config.Adaptive on)
//
// and, with Config.Threads on (absent otherwise, so that a Transport without
// permits does not show a limit of 0 and a wait of 0):
//
//	slotguard_thread_permits_held            gauge    permits out: submits under way and tasks
//	slotguard_thread_tasks                   gauge    permits held by tasks not seen to end
//	slotguard_thread_capacity                gauge    the account's threads: Plan, or as learned
//	slotguard_thread_limit                   gauge    permits allowed: capacity plus overbook
//	slotguard_thread_waiters                 gauge    submits waiting for a permit
//	slotguard_thread_expected_wait_seconds   gauge    a new submit's wait for a permit; -1: no pace yet
//	slotguard_thread_releases_total{reason}  counter  permits given back: not_accepted, polled, explicit, ceiling
//	slotguard_type_thread_permits_held{type} gauge    the type's permits out
//	slotguard_type_thread_capacity{type}     gauge    the threads learned for the type's workers
//	slotguard_type_thread_limit{type}        gauge    the type's permits allowed
//	slotguard_type_thread_waiters{type}      gauge    the type's submits waiting for a permit
//
// answers_total carries code="ERROR_NO_SLOT_AVAILABLE" from the first
// scrape, at 0, so that rate() over it works before the first NO_SLOT.
//
// Options.ConstLabels tell several Transports in one registry apart:
//
//	prometheus.MustRegister(
//		promguard.New(main, promguard.Options{ConstLabels: prometheus.Labels{"account": "main"}}),
//		promguard.New(batch, promguard.Options{ConstLabels: prometheus.Labels{"account": "batch"}}),
//	)
package promguard
