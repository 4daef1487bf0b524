package slotguard

import (
	"strconv"
	"time"
)

// The provider's answer codes that slotguard acts on. The meanings and
// penalties come from the 2captcha and CaptchaAI API documentation (in.php
// and res.php error lists, and CaptchaAI's ERROR_NO_SLOT_AVAILABLE guide).
const (
	// CodeNoSlot: no free worker for this account right now. Not billed,
	// transient: retried with backoff, counted by the breaker.
	CodeNoSlot = "ERROR_NO_SLOT_AVAILABLE"
	// CodeUserTurn: more than 60 in.php requests within 3 s. The provider
	// refuses submits for 10 s; slotguard holds every submit for that long.
	CodeUserTurn = "MAX_USER_TURN"
	// CodeZeroBalance: on 2captcha, no funds (final). On CaptchaAI it also
	// means "no free threads" (transient): see Provider.
	CodeZeroBalance = "ERROR_ZERO_BALANCE"
	// CodeBanNoSlot: 120 NO_SLOT answers within one minute; the key is
	// blocked for 10 minutes.
	CodeBanNoSlot = "ERROR: 1001"
	// CodeBanZeroBalance: 120 ZERO_BALANCE answers within one minute; the
	// key is blocked for 5 minutes.
	CodeBanZeroBalance = "ERROR: 1002"
	// CodeBanNoSlotShare: NO_SLOT answers at least 3 times the captchas
	// sent; the key is blocked for 30 seconds.
	CodeBanNoSlotShare = "ERROR: 1003"
	// CodeBanPolls: res.php polled more than 20 x captchas + 1200 times;
	// the key is blocked for 10 minutes. Answered by res.php, never by
	// in.php, so the submit stages only pass it through.
	CodeBanPolls = "ERROR: 1005"
	// CodeNotReady: res.php's "not solved yet". Progress, never a failure.
	CodeNotReady = "CAPCHA_NOT_READY"
)

// userTurnWait is how long the provider refuses submits after MAX_USER_TURN.
const userTurnWait = 10 * time.Second

// Provider selects how provider-specific answers are read. The zero value is
// CaptchaAI.
type Provider int

const (
	// CaptchaAI reads ERROR_ZERO_BALANCE as "no free threads": transient,
	// retried like NO_SLOT (CaptchaAI reuses the code for a full plan).
	CaptchaAI Provider = iota
	// TwoCaptcha reads ERROR_ZERO_BALANCE as "no funds": final, passed
	// through at once.
	TwoCaptcha
)

// String returns the provider's name.
func (p Provider) String() string {
	switch p {
	case CaptchaAI:
		return "captchaai"
	case TwoCaptcha:
		return "2captcha"
	}
	return "provider(" + strconv.Itoa(int(p)) + ")"
}

// verdict is what an answer means for the submit stages.
type verdict uint8

const (
	verdictOther      verdict = iota // not retried, neither success nor failure for the breaker
	verdictAccepted                  // the task was accepted (and billed): breaker success
	verdictNoSlot                    // not accepted, capacity: retry, breaker failure
	verdictCapacity                  // not accepted, capacity but not NO_SLOT: retry, breaker neutral
	verdictUserTurn                  // MAX_USER_TURN: hold every submit userTurnWait, then retry
	verdictBan                       // a ban: never retried, breaker held open for the ban
	verdictRetryAfter                // HTTP 429 with Retry-After: not accepted, wait and retry
	verdictUnsent                    // not sent after all: a wait ended before the wire
	verdictLost                      // sent, but the answer was lost or cut: may be accepted, never retried
)

// action is what codes.go decides about one code.
type action struct {
	verdict verdict
	code    string        // the code, for the codes this table knows; "" otherwise
	hold    time.Duration // for verdictBan: how long the key is blocked; for verdictRetryAfter: the wait asked
	// probe marks a NO_SLOT answered while the Transport's own tasks held
	// every thread (Threads): the cost of looking for a thread freed
	// unseen, not a refusal, so it does not count toward Backoff.Attempts.
	probe bool
}

// outcome is the verdict as a Budget sees it.
func (a action) outcome() Outcome {
	switch a.verdict {
	case verdictAccepted:
		return OutcomeAccepted
	case verdictNoSlot:
		return OutcomeNoSlot
	case verdictUnsent:
		return OutcomeUnknown
	case verdictLost:
		return OutcomeLost
	}
	return OutcomeOther
}

// actionFor maps a provider code (as the provider spelt it) to an action.
// The switch on string(code) does not allocate.
func actionFor(p Provider, code []byte) action {
	switch string(code) {
	case CodeNoSlot:
		return action{verdict: verdictNoSlot, code: CodeNoSlot}
	case CodeUserTurn:
		return action{verdict: verdictUserTurn, code: CodeUserTurn}
	case CodeZeroBalance:
		if p == CaptchaAI {
			return action{verdict: verdictCapacity, code: CodeZeroBalance}
		}
		return action{verdict: verdictOther, code: CodeZeroBalance}
	case CodeBanNoSlot:
		return action{verdict: verdictBan, code: CodeBanNoSlot, hold: 10 * time.Minute}
	case CodeBanZeroBalance:
		return action{verdict: verdictBan, code: CodeBanZeroBalance, hold: 5 * time.Minute}
	case CodeBanNoSlotShare:
		return action{verdict: verdictBan, code: CodeBanNoSlotShare, hold: 30 * time.Second}
	}
	return action{verdict: verdictOther}
}
