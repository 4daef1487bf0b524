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
// An answer in the proxy's own words is text/plain with an
// X-Slotproxy-Error header naming its kind, and /metrics counts it in
// slotproxy_errors_total by whose failure it was:
//
//	side=client    the client's own: 400 bad-path, 405 bad-method, 408
//	               client-timeout (its body stalled past -read-timeout), 413
//	               request-too-large, 499 client-gone (counted; nobody reads it)
//	side=proxy     refused, nothing sent, safe to send again after Retry-After:
//	               503 circuit-open (the breaker is open); 503 queue-full (the
//	               requests inside hold -max-queued-bytes of bodies already);
//	               503 not-sent (a wait in slotguard, for the pacer, the ban
//	               budget or the in-flight bound, would outlast or was ended by
//	               -request-timeout, or every attempt sent was refused NO_SLOT)
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
// 2 min per request through slotguard's waits (-request-timeout, then 504 for
// what was sent, 503 not-sent for what was not), the write deadline just past
// that, 2 min idle. Bodies: -max-request-body (1 MiB) per request,
// -max-queued-bytes (64 MiB) for all the requests inside at once,
// -max-response-body (1 MiB) per answer. slotproxy -h lists every flag with
// its default: the slotguard.Config knobs are -rate, -burst,
// -max-in-flight, -attempts, -backoff, -backoff-multiplier, -backoff-max,
// -jitter, -breaker-failures, -breaker-open-for, -provider and -pace-polls.
//
// # Metrics
//
// Read from Transport.Stats at scrape time: slotguard_submits_total,
// _attempts_total, _accepted_total, _retries_total, _answers_total{code}
// (NO_SLOT and every other code), _transport_errors_total,
// _failed_fast_total, _breaker_state{state}, _breaker_opens_total,
// _in_flight, _rate, _wait_seconds_total{cause="pacer|limit|backoff|budget|poll"}
// and the ban budget's headroom; and the proxy's own
// slotproxy_requests_total{endpoint,code} (499 for a client that left),
// slotproxy_request_duration_seconds{endpoint},
// slotproxy_errors_total{endpoint,side,kind} and
// slotproxy_request_bytes_held.
//
// # Which clients can use it
//
// Your own code with requests, curl, fetch or Guzzle: change the base URL
// only. Tested with Python requests and curl, through NO_SLOT storms and an
// outage, every task billed once:
//
//	BASE = "http://127.0.0.1:8099"  # CaptchaAI's examples with requests
//	r = requests.post(BASE + "/in.php", data={"key": KEY, "method": "userrecaptcha", ...})
//
// 2captcha-python (TwoCaptcha(server=...)) takes a host name and forces
// https://: run slotproxy with -tls-cert and -tls-key on loopback, put your CA
// in REQUESTS_CA_BUNDLE and use server="127.0.0.1:8443" (TLS mode is tested
// with a certificate made in the test, by Go, curl --cacert and a requests
// script; not with 2captcha-python itself). It turns any non-200 answer into
// NetworkException and does not retry: a 503 from slotproxy reaches you as
// NetworkException('bad response: 503').
//
// 2captcha-go v1.1.10: set Client.BaseURL. The npm packages
// (@2captcha/captcha-solver 1.3.9, 2captcha, 2captcha-ts, 2captcha-node) hard
// code https://2captcha.com/in.php and cannot be pointed at a proxy: use
// slotguard in Go, or call the API with your own fetch through slotproxy.
//
// What it costs per request is in BENCHMARKS.md at the repository root.
package main
