package slotguard

import (
	"context"
	"time"
)

// Shared holds the state that processes sharing one API key can share (see
// the redisguard module, which keeps it in Redis). Each field is optional;
// a nil field keeps that state in the process. When a shared call fails for
// any reason but the request's context (the store is down or slow), the
// Transport falls back to its local limits for that attempt, and uses the
// shared state again as soon as a call succeeds: a request is never lost or
// hung because the store is. It logs an outage once, when the first part
// fails, and its end when the last part answers again.
//
// While the local breaker holds an opening (a ban the provider answered,
// or a run of NO_SLOT answers), the Transport writes it to Breaker again at
// most once a second (each opening: the ban's, each type's), so that a
// store that lost its state (a restart without persistence) learns it
// back from the processes that hold it.
type Shared struct {
	// Pacer paces every process's submit attempts together: one Wait per
	// attempt, after the local ban budget. A *rate.Limiter satisfies it.
	Pacer Waiter
	// Budget keeps the fleet's attempts under the provider's ban lines,
	// alongside the local budget.
	Budget Budget
	// Breaker shares the breaker's open state: one process that sees a
	// type's outage opens that type's for all, one that sees a ban opens
	// the key's for all, and one probe goes through for the whole fleet
	// after each open period.
	Breaker SharedBreaker
	// Threads shares the thread permits (Config.Threads): the fleet's
	// tasks in flight are leases keyed by task id, given back by whichever
	// process sees the task end, and the capacity is learned from every
	// process's answers.
	Threads SharedThreads
}

// Waiter paces submit attempts; *rate.Limiter is one.
type Waiter interface {
	// Wait blocks until one attempt may go, or ctx ends (then it returns
	// an error matching ctx.Err()).
	Wait(ctx context.Context) error
}

// Budget keeps attempts under the provider's ban lines (see BudgetConfig).
type Budget interface {
	// Admit blocks until one more submit attempt fits under every line,
	// or ctx ends (then it returns an error matching ctx.Err()). Each
	// successful Admit is followed by exactly one Done.
	Admit(ctx context.Context) error
	// Done reports the outcome of an admitted attempt.
	Done(ctx context.Context, o Outcome)
}

// Outcome is what an admitted attempt came to, for a Budget.
type Outcome uint8

const (
	// OutcomeUnknown: the attempt was not sent after all (a later wait
	// ended, the request was cancelled before it left).
	OutcomeUnknown Outcome = iota
	// OutcomeAccepted: the provider accepted (and billed) the task.
	OutcomeAccepted
	// OutcomeNoSlot: ERROR_NO_SLOT_AVAILABLE.
	OutcomeNoSlot
	// OutcomeOther: any other answer.
	OutcomeOther
	// OutcomeLost: the attempt was sent but its answer was lost (a
	// transport error, an answer cut short). The provider counted it,
	// maybe as a NO_SLOT: a Budget counts it as a possible one.
	OutcomeLost
)

// SharedBreaker is the fleet-wide half of the breaker. Each process still
// runs its own breaker; this shares the result: an opening, and its end.
//
// It keeps the breaker per task type, as the Transport's own breaker does
// (see BreakerConfig): typ is the submit's TaskType, or "" for none. The
// store decides where a type stands, and may bound the types it keeps
// apart, putting the others together in its untyped run (""): the
// Transport asks it by the submit's own type even for a type it keeps in
// its own untyped run (past its first 32), and opens "" for an opening of
// that local run. A run of NO_SLOT answers (code "") opens typ's breaker only,
// for the whole fleet: a reCAPTCHA shortage leaves image captchas alone. A
// ban the provider answered (code "ERROR: 1001", ...) opens the whole key:
// every type is refused, naming the code. Each open breaker, the key's
// and each type's, lets one probe of the whole fleet through after its
// open period.
type SharedBreaker interface {
	// Allow reports whether a submit of type typ may go now. While the
	// key's breaker or typ's is open it returns an *OpenError (its Code
	// names the ban when the key's is). Once an open period has passed it
	// lets exactly one submit of the whole fleet through as that
	// breaker's probe (probe true) and keeps refusing the others it holds
	// until the probe's outcome is reported, or for a bounded time if it
	// never is.
	Allow(ctx context.Context, typ string) (probe bool, err error)
	// Open opens a breaker until until (a later opening wins): the whole
	// key's for a ban, naming the provider's ban code; typ's only for a
	// run of NO_SLOT answers (code "").
	Open(ctx context.Context, typ string, until time.Time, code string) error
	// Close closes the breaker this process's probe of type typ was let
	// through for, after it was accepted.
	Close(ctx context.Context, typ string) error
	// Release ends this process's probe of type typ, whose answer proved
	// nothing either way (neither accepted, NO_SLOT nor a ban; or no
	// answer at all): the breaker stays as it was, and the next submit of
	// the fleet it holds may probe at once, instead of after the bounded
	// time. A probe answered NO_SLOT is released too, after Open for typ:
	// it may have been the key's probe, which that opening does not end.
	Release(ctx context.Context, typ string) error
}

// SharedThreads is the fleet-wide store of thread permits (Config.Threads),
// for processes that share one API key: the account's threads are the
// fleet's. As the Transport's own permits, the store keeps a capacity per
// task type (TaskType; a bounded number of types) within the plan's total
// for the key; a store that keeps one capacity for the key has the types
// share it, and a reCAPTCHA shortage then lowers it for images too. A permit is a submit under way (named by a token) or a task in
// flight (named by its id); both expire on their own, so a process that
// dies leaks nothing for good. The Transport keeps the policy (when to
// take, keep and give back a permit, what a NO_SLOT says) and asks the
// store for the fleet's counts; a failing store leaves the Transport on
// its local permits for that submit.
type SharedThreads interface {
	// Acquire takes a permit for a submit of task type typ ("": none
	// read) when the fleet's permits out of the type (submits under way
	// and tasks in flight) are fewer than the type's capacity (plan, or 1,
	// until learned) plus overbook and, with a plan, the fleet's permits
	// out of every type are fewer than plan plus overbook; and waits,
	// cancellably, until they are otherwise (then it returns an error
	// matching ctx.Err()). The permit expires after ttl unless Accepted or
	// Release names its token first.
	Acquire(ctx context.Context, typ string, plan, overbook int, ttl time.Duration) (token string, err error)
	// Accepted turns the permit into the lease of task id, until ceiling
	// from now, and raises the capacity of the permit's type by one when
	// the fleet's tasks of the type are above it, never above plan (0: no
	// plan). While the type's NO_SLOT answers came within quiet, it raises
	// it one step per capacity's worth of such acceptances instead.
	Accepted(ctx context.Context, token, id string, ceiling time.Duration, plan int, quiet time.Duration) error
	// Release gives back the permit of a submit that ended without
	// acceptance, or keeps it as an anonymous lease until ceiling from now
	// (ceiling > 0) for a submit that may have been accepted.
	Release(ctx context.Context, token string, ceiling time.Duration) error
	// NoSlot learns from a NO_SLOT answer to a submit of task type typ:
	// when the fleet's tasks of the type are fewer than the type's
	// capacity, and with a plan the fleet's tasks of every type are fewer
	// than plan, the type's capacity falls to them (at least 1) and probe
	// is false; otherwise the answer was a probe.
	NoSlot(ctx context.Context, typ string, plan int) (probe bool, err error)
	// Done ends the lease of task id, whichever process holds it, and
	// reports whether there was one.
	Done(ctx context.Context, id string) (bool, error)
}
