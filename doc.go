// Package slotguard is an http.RoundTripper chain for 2captcha-compatible
// captcha APIs (CaptchaAI, 2captcha) that turns ERROR_NO_SLOT_AVAILABLE from
// a failure into a wait: it paces submits, retries the answers that prove a
// task was not accepted, fails fast through outages, bounds what is in
// flight, and keeps the account clear of the provider's bans.
//
// Drop it into any http.Client, under any client library:
//
//	tr, err := slotguard.New(nil, slotguard.Config{}) // the provider's advice
//	client := &http.Client{Transport: tr}
//
// # The chain
//
// A submit is a request whose path ends in /in.php or /createTask (see
// IsSubmit). With Config.Threads it first takes a thread permit, once for
// all its attempts; then each attempt, retries included, passes these
// stages in this order:
//
//	[thread permit] ─▶ retry loop ─▶ breaker ─▶ ban budget ─▶ pacer ─────────▶ in-flight bound ─▶ base RoundTripper
//	(per submit,          ▲         (allow?)   (ban lines)   (hold, token)    (slot)                    │
//	 Threads)             └────── classify the answer: accepted / NO_SLOT / capacity / other ◀──────────┘
//
// The order matters:
//
//   - The thread permit comes first and is held from before the first
//     attempt until the task is seen to end, as the provider holds a thread
//     (see Threads): submits beyond the capacity learned for their task
//     type, or beyond the plan, wait in their type's line, in arrival
//     order, rather than spend attempts on NO_SLOT answers. It is taken at
//     the first attempt, once the retry loop has read the submit's type.
//   - The breaker comes first, so that while it is open a submit fails at
//     once with ErrCircuitOpen, spending neither budget nor a pacer token
//     nor a request. Its run of NO_SLOT answers is kept per task type
//     (TaskType), since NO_SLOT is per worker pool; a ban blocks the key.
//   - The ban budget (BudgetConfig) admits an attempt only while the NO_SLOT
//     answers of the last minute, counting those still in flight, and the
//     submits of the last 3 s stay under the provider's ban lines.
//   - Every attempt takes a pacer token: retries never burst past the rate.
//     After MAX_USER_TURN the pacer holds every submit for the provider's
//     10 s first. With Adaptive, an attempt takes a token of its task
//     type's adaptive rate, then one of the key's (Rate is the key's
//     ceiling): one type's NO_SLOT answers slow that type only.
//   - The in-flight bound comes last, so it counts only attempts on the wire.
//
// With Config.Shared, the thread permits, the breaker, the budget and the
// pacer each also ask their fleet-wide part (see the redisguard module). Everything else
// (res.php polls, balance checks) goes straight to the base RoundTripper,
// untouched, unless Config.Polls paces polls.
//
// # Reading answers on purpose
//
// Unlike most middleware, the slot-retry stage reads the response body: the
// providers answer "no free worker" with HTTP 200 and ERROR_NO_SLOT_AVAILABLE
// in the body. It reads a bounded prefix (1 KiB, decoded), classifies it
// (ParseAnswer: plain text, json=1 JSON, createTask JSON; exact matches only),
// and hands the caller a body that yields the very bytes the provider sent,
// whatever their length, with status and headers untouched. Responses it does
// not hand back (the NO_SLOT answers it retries) are drained, up to a bound,
// and closed.
//
// # What is never retried
//
// A submit costs money once accepted, so only answers that prove the task
// was not accepted are retried: NO_SLOT, MAX_USER_TURN (after holding every
// submit the provider's 10 s), and on CaptchaAI ERROR_ZERO_BALANCE ("no free
// threads"), and an HTTP 429 with Retry-After (a refusal before any work),
// after it. A transport error, an HTTP 5xx (a 503 with Retry-After
// included: a gateway's 503 can follow an origin that took the task), an
// answer cut short or an unreadable answer may follow an accepted task: it
// is handed back, never retried, and a cut answer comes with its read error
// from Body.Read, as from a bare http.Transport. slotguard never adds an
// Idempotency-Key header, which would let net/http replay a POST. An error
// that matches ErrNotSent comes from a submit the provider cannot have
// accepted.
// The ban answers (ERROR: 1001, 1002, 1003) are handed back and hold the
// breaker open for the ban's published length.
//
// # Staying under the bans
//
// The provider blocks a key that hammers it: 120 NO_SLOT answers in a
// minute (10 minutes, ERROR: 1001), NO_SLOT at 3 x the captchas sent (30 s,
// ERROR: 1003), over 60 submits in 3 s (MAX_USER_TURN, 10 s), over 20 x
// captchas + 1200 polls (10 minutes, ERROR: 1005). Whatever the pace, every
// submit attempt passes the ban budget (Config.Budget): at most 110 NO_SLOT
// answers in any rolling minute, counting attempts still in flight and
// answers lost after sending as possible NO_SLOTs, and at most 50 submits
// in any 3 s; near a line an attempt waits, cancellably (Stats.BudgetWait).
// With Config.Polls on, polls keep their task's first-poll delay, their
// spacing, and a margin under the poll line. A ban answered anyway holds
// the breaker open for the ban's length. Transport.Advice says whether to
// start a batch now, without a billable probe submit, and
// PublishedSchedule paces by CaptchaAI's hours table.
//
// # Stages alone
//
// Pacer, SlotRetry, Breaker and Limit are each an http.RoundTripper with a
// Base field, holding the dependency's own type (*rate.Limiter,
// *gobreaker.TwoStepCircuitBreaker, *semaphore.Weighted) so that one limiter
// or breaker can be shared between clients. They are thin adapters over the
// components Transport runs (stages.go); Transport runs the components
// without nesting the stages, so an answer is read once per attempt, and
// adds what no stage has alone: the ban budget, adaptive pacing, the
// schedule, poll pacing and shared state.
//
// A Transport starts no goroutines, needs no Close and is safe for
// concurrent use. Cancelling a request's context ends any wait at once; the
// error matches the context's own with errors.Is.
//
// # The API key
//
// slotguard never puts the API key (key= in the query or the form) into a
// log record or an error it makes. http.Client, though, wraps every
// RoundTrip error in a *url.Error that carries the request's whole URL, key=
// included: log RedactError(err), never err itself.
package slotguard
