// Command slotproxy is an HTTP reverse proxy with slotguard as its
// transport: point the base URL of any CaptchaAI / 2captcha client, in any
// language, at it, and one process paces and guards the whole host's
// traffic to the provider.
//
//	slotproxy                                   # http://127.0.0.1:8099 -> https://ocr.captchaai.com
//	slotproxy -upstream https://2captcha.com -provider 2captcha
//	slotproxy -tls-cert cert.pem -tls-key key.pem   # for clients that force https
//
// It forwards paths, queries, bodies and answers unchanged, apart from
// slotguard's retries of NO_SLOT and the other capacity answers. It forwards
// only what the provider's API uses: GET and POST (other methods, HEAD
// included, are answered 405), and paths without "." or ".." segments,
// encoded or not (400). It serves
// /healthz and /metrics (Prometheus) at those exact paths on the same
// listener, or on -admin-listen. It listens on loopback unless -public is
// given, never logs a query string or a form (where the keys are), blanks
// anything key-like (key=, clientKey) in the paths and errors it logs,
// percent-encoded or not, and finishes the requests in flight on SIGINT or
// SIGTERM.
//
// # Never outwaiting the client, in the provider's dialect
//
// Clients in any language handle what the provider answers and nothing
// else: the NO_SLOT guide's Python loop calls resp.json() on every answer
// and does not catch requests' ReadTimeout after its timeout=30. So a
// submit (in.php, createTask) that cannot leave the proxy within -max-wait
// (25 s), for the thread permit, the ban budget, the pacer, the in-flight
// bound or the backoff, is answered by the proxy as the provider answers
// NO_SLOT, in the request's own format, HTTP 200:
//
//	ERROR_NO_SLOT_AVAILABLE                                   plain in.php
//	{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}          json=1 in the query or the form
//	{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE",...}   createTask
//
// The client's own NO_SLOT handling then backs off, and nothing was sent,
// so nothing was billed. While the breaker is open a submit gets the same
// answer, or, when a ban the provider answered holds it open, that ban's
// code in the same format ("ERROR: 1001"; createTask: errorId 21 with
// errorCode "ERROR: 1001"). A submit refused queue-full is answered so too
// (its body is never held: json=1 is found in a urlencoded form as it
// streams past; of a multipart one, only the query counts). With -threads,
// a submit whose wait for a permit would outlast -max-wait at the recent
// pace of releases is refused at once; the pacer refuses at once when its
// next token comes after -max-wait; the ban budget and the backoff are
// waited out to -max-wait.
//
// An attempt already sent is always waited for (up to -request-timeout):
// it may be accepted and billed. -max-wait bounds only the waits before an
// attempt leaves, and when the next retry would come after it, the
// provider's own last NO_SLOT is handed back.
//
// -refusal http answers these refusals as before: 503 with Retry-After in
// the proxy's own words (below), for clients written for it.
//
// # Answers in the proxy's own words
//
// A refusal in the provider's dialect carries an X-Slotproxy-Error header
// naming its kind, as the proxy's other answers do, and /metrics counts it
// in slotproxy_refusals_total{endpoint,kind,code} too. Any other answer in
// the proxy's own words is text/plain with an X-Slotproxy-Error header
// naming its kind, and /metrics counts each in slotproxy_errors_total by
// whose failure it was:
//
//	side=client    the client's own: 400 bad-path, 405 bad-method, 408
//	               client-timeout (its body stalled past -read-timeout), 413
//	               request-too-large, 403 wrong-key (with -redis, another key
//	               than -redis-key), 499 client-gone (counted; nobody reads it)
//	side=proxy     refused, nothing sent, safe to send again: a submit gets
//	               200 in the provider's dialect (above), other requests and
//	               -refusal http get 503 with Retry-After: circuit-open (the
//	               breaker is open); queue-full (the requests inside hold
//	               -max-queued-bytes of bodies already); not-sent (a wait in
//	               slotguard, for a thread permit, the pacer, the ban budget or
//	               the in-flight bound, would outlast or was ended by -max-wait
//	               or -request-timeout, or every attempt sent was refused
//	               NO_SLOT)
//	side=upstream  the request left: 502 upstream, 502 response-too-large,
//	               502 answer-cut, 504 timeout; a submit may have been
//	               accepted and billed
//
// A submit's answer is read whole before any of it goes out, so that one
// cut short is a 502 answer-cut rather than a task id that breaks off. Any
// other answer streams; one that breaks off, or outgrows
// -max-response-body, is cut off by a reset (counted as answer-cut or
// response-too-large).
//
// # Timeouts and limits
//
// 10 s to read a request's headers, 30 s to read a request (-read-timeout),
// 25 s for a submit to leave the proxy (-max-wait; 0: -request-timeout
// alone), 2 min per request through slotguard's waits and the attempts
// sent (-request-timeout, then 504 for what was sent, not-sent for what was
// not), the write deadline just past that, 2 min idle. Bodies: -max-request-body (1 MiB) per request,
// -max-queued-bytes (64 MiB) for all the requests inside at once,
// -max-response-body (1 MiB) per answer. slotproxy -h lists every flag with
// its default: the slotguard.Config knobs are -rate, -burst,
// -max-in-flight, -attempts, -backoff, -backoff-multiplier, -backoff-max,
// -jitter, -breaker-failures, -breaker-open-for, -provider; the ban budget's
// lines -budget-noslot-per-minute and -budget-submits-per-3s (a count, or
// unlimited); adaptive pacing -adaptive, -adaptive-floor,
// -adaptive-decrease, -adaptive-increase; the hourly -schedule
// (published:HIGH,MODERATE,PEAK for CaptchaAI's published hours, or 24
// comma-separated rates from 00:00 UTC); poll pacing -pace-polls,
// -poll-first, -poll-first-slow, -poll-every; thread permits -threads,
// -threads-plan, -threads-overbook, -threads-ceiling. A bad value is
// refused with an error naming the flag (or, for the few that only
// slotguard.New checks, the Config field).
//
// # Many hosts, one key (-redis)
//
//	slotproxy -redis redis.internal:6379 -redis-key $KEY -rate 2
//
// shares the pace, the ban budget, the breaker's openings and the thread
// permits of one API key with every slotproxy given the same Redis and key
// (redisguard): -rate, -burst and the -budget lines are then the fleet's,
// all proxies together, and each proxy's own stay on top of them. A fleet's
// lines are one key's bans, so a slotproxy with -redis serves -redis-key
// only: a request with another key (key= in the query or the form,
// clientKey in a JSON body) is refused 403 wrong-key, nothing sent. Run one
// fleet of slotproxies per key. While Redis does not answer, each proxy runs
// on its own limits (logged once per outage) and rejoins when it does.
//
// # Metrics
//
// Read from Transport.Stats at scrape time, by package promguard (which a
// Go program can register for its own Transport): slotguard_submits_total,
// _attempts_total, _accepted_total, _retries_total, _answers_total{code}
// (NO_SLOT and every other code), _transport_errors_total,
// _failed_fast_total, _breaker_state{state}, _breaker_opens_total,
// _in_flight, _rate, _wait_seconds_total{cause="pacer|limit|backoff|budget|poll"}
// the ban budget's headroom, the slotguard_type_* series by task type
// (NO_SLOT, the breaker's run and the adaptive rate are per type), and
// with -threads the slotguard_thread_* series; and the proxy's own
// slotproxy_requests_total{endpoint,code} (499 for a client that left),
// slotproxy_request_duration_seconds{endpoint},
// slotproxy_errors_total{endpoint,side,kind},
// slotproxy_refusals_total{endpoint,kind,code} and
// slotproxy_request_bytes_held.
//
// # Which clients can use it
//
// Your own code with requests, curl, fetch or Guzzle: change the base URL
// only. Tested with the loop of CaptchaAI's own guide, unchanged but for its
// base URL, in Python requests (20 threads, timeout=30), urllib and curl,
// against cmd/fakeprovider, through NO_SLOT storms and a breaker opening,
// and with two slotproxies sharing one key through Redis: no exception the
// guide's code does not handle, no ban, every task billed once
// (TestGuideClients):
//
//	BASE = "http://127.0.0.1:8099"  # CaptchaAI's examples with requests
//	r = requests.post(BASE + "/in.php", data={"key": KEY, "method": "userrecaptcha", ...})
//
// 2captcha-python (TwoCaptcha(server=...)) takes a host name and forces
// https://: run slotproxy with -tls-cert and -tls-key on loopback, put your CA
// in REQUESTS_CA_BUNDLE and use server="127.0.0.1:8443" (TLS mode is tested
// with a certificate made in the test, by Go, curl --cacert and a requests
// script; not with 2captcha-python itself). It turns any non-200 answer into
// NetworkException and does not retry: the refusals come as the provider's
// own NO_SLOT answer, which it handles, unless -refusal http, whose 503
// reaches you as NetworkException('bad response: 503').
//
// 2captcha-go v1.1.10: set Client.BaseURL. The npm packages
// (@2captcha/captcha-solver 1.3.9, 2captcha, 2captcha-ts, 2captcha-node) hard
// code https://2captcha.com/in.php and cannot be pointed at a proxy: use
// slotguard in Go, or call the API with your own fetch through slotproxy.
//
// What it costs per request is in BENCHMARKS.md at the repository root.
package main
