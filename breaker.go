package slotguard

import (
	"cmp"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen is the error of a submit refused because the breaker is
// open: a run of NO_SLOT answers, or a ban answered by the provider. Match it
// with errors.Is; it also matches through http.Client's *url.Error. The error
// itself is an *OpenError, which says why and until when.
var ErrCircuitOpen = errors.New("slotguard: circuit open")

// OpenError is the error of a submit refused by an open breaker. It matches
// ErrCircuitOpen with errors.Is.
type OpenError struct {
	// Code is the provider's ban code that holds the breaker open
	// ("ERROR: 1001", "ERROR: 1002", "ERROR: 1003"), or "" when it opened
	// on consecutive NO_SLOT answers.
	Code string
	// Until is when the breaker lets a submit through again; zero when
	// not known (a probe is already in flight, or a breaker built by the
	// user).
	Until time.Time
}

func (e *OpenError) Error() string {
	s := "slotguard: circuit open"
	if e.Code != "" {
		s += " after the provider's " + e.Code
	} else {
		s += " after consecutive " + CodeNoSlot + " answers"
	}
	if !e.Until.IsZero() {
		s += " until " + e.Until.UTC().Format(time.RFC3339)
	}
	return s
}

// Is reports whether target is ErrCircuitOpen.
func (e *OpenError) Is(target error) bool { return target == ErrCircuitOpen }

// breaker is the circuit breaker that Transport and the Breaker stage run:
// gobreaker's two-step breaker counting NO_SLOT answers (nil: none), and
// the holds of the provider's bans, which keep it open whatever cb says.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	scale    float64 // Config.TimeScale, for the ban holds
	ban      atomic.Pointer[banHold]
	openFor  time.Duration // cb's timeout, when newBreaker built it
	openedAt atomic.Int64  // Unix nanoseconds of cb's last opening
	opens    atomic.Int64  // cb's openings so far
	logged   atomic.Int64  // openings already logged
}

type banHold struct {
	code  string
	until time.Time
}

// Breaker defaults. The breaker is for outages, not for saturation: with
// demand above an account's capacity about half of all attempts are
// answered NO_SLOT, and runs of 10 in a row are common, so a breaker that
// opened after 10 would cut off a working account. 30 NO_SLOT answers in a
// row are 15 s without a single free slot at the default pace of 2
// attempts/s, which is an outage, not a busy account. Open for 30 s, then
// one probe: in a full outage that is 30 + 1 + 1 NO_SLOT answers in the
// first minute and 2 a minute after, far under the 120 that get a key
// blocked (ERROR: 1001).
const (
	defaultFailures = 30
	defaultOpenFor  = 30 * time.Second
)

// errNoSlot and errNeutral are the outcomes reported to gobreaker: a NO_SLOT
// failure, and an answer that is neither success nor failure.
var (
	errNoSlot  = errors.New("slotguard: " + CodeNoSlot)
	errNeutral = errors.New("slotguard: neutral answer")
)

// BreakerSettings returns gobreaker settings that implement cfg: open after
// cfg.Failures consecutive NO_SLOT answers, stay open cfg.OpenFor, then let
// one probe through. Zero fields take the defaults (30 answers, 30 s). Set
// Name or OnStateChange on the result as you like; keep IsSuccessful,
// IsExcluded and ReadyToTrip. Check cfg with Config's validation first:
// BreakerSettings does not.
func BreakerSettings(cfg BreakerConfig) gobreaker.Settings {
	failures := uint32(min(cfg.failures(), math.MaxUint32))
	return gobreaker.Settings{
		Name:        "slotguard",
		MaxRequests: 1,
		Timeout:     cfg.openFor(),
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.Is(err, errNeutral) },
	}
}

// newBreaker builds the breaker for cfg (valid), its durations divided by
// scale.
func newBreaker(cfg BreakerConfig, scale float64) *breaker {
	b := &breaker{scale: scale}
	if cfg.failures() == Unlimited {
		return b
	}
	st := BreakerSettings(cfg)
	st.Timeout = scaled(st.Timeout, scale)
	// Only atomics here: gobreaker calls OnStateChange under its lock, so
	// no user code (not even the Logger) may run in it (gobreaker #37).
	st.OnStateChange = func(_ string, _, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			b.openedAt.Store(time.Now().UnixNano())
			b.opens.Add(1)
		}
	}
	b.openFor = st.Timeout
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	return b
}

func noop(error) {}

// allow asks whether a submit may go now. On yes, the caller must call done
// exactly once, through report or with errNeutral.
func (b *breaker) allow() (done func(error), err error) {
	if h := b.ban.Load(); h != nil && time.Now().Before(h.until) {
		return nil, &OpenError{Code: h.code, Until: h.until}
	}
	if b.cb == nil {
		return noop, nil
	}
	done, err = b.cb.Allow()
	if err != nil {
		e := &OpenError{}
		if errors.Is(err, gobreaker.ErrOpenState) && b.openFor > 0 {
			e.Until = time.Unix(0, b.openedAt.Load()).Add(b.openFor)
		}
		return nil, e
	}
	return done, nil
}

// report tells the breaker what the answer was.
func (b *breaker) report(done func(error), act action) {
	switch act.verdict {
	case verdictAccepted:
		done(nil)
	case verdictNoSlot:
		done(errNoSlot)
	case verdictBan:
		done(errNeutral)
		b.holdFor(act.code, scaled(act.hold, b.scale))
	default:
		done(errNeutral)
	}
}

// holdFor holds the breaker open for d after a ban, unless a longer hold is
// already in force.
func (b *breaker) holdFor(code string, d time.Duration) {
	h := &banHold{code: code, until: time.Now().Add(d)}
	for {
		cur := b.ban.Load()
		if cur != nil && !cur.until.Before(h.until) {
			return
		}
		if b.ban.CompareAndSwap(cur, h) {
			return
		}
	}
}

// newlyOpened reports, once per opening, that cb has opened since the last
// call: for logging outside gobreaker's lock.
func (b *breaker) newlyOpened() bool {
	n := b.opens.Load()
	old := b.logged.Load()
	return n != old && b.logged.CompareAndSwap(old, n)
}

// state is the breaker's state as a dashboard sees it: open while a ban
// holds.
func (b *breaker) state() gobreaker.State {
	if h := b.ban.Load(); h != nil && time.Now().Before(h.until) {
		return gobreaker.StateOpen
	}
	if b.cb == nil {
		return gobreaker.StateClosed
	}
	return b.cb.State()
}

// BreakerConfig configures the circuit breaker (see Breaker).
type BreakerConfig struct {
	// Failures is how many consecutive NO_SLOT answers open the breaker.
	// It counts answers, not time: at Rate r it is Failures/r seconds in
	// which nothing was accepted, so raise it with the rate. 0: 30.
	// Unlimited: never open on NO_SLOT (bans still hold it open).
	Failures int
	// OpenFor is how long the breaker stays open before one probe goes
	// through. 0: 30s.
	OpenFor time.Duration
}

func (c BreakerConfig) failures() int {
	return cmp.Or(c.Failures, defaultFailures)
}

func (c BreakerConfig) openFor() time.Duration {
	return cmp.Or(c.OpenFor, defaultOpenFor)
}

func (c BreakerConfig) validate(name string) error {
	if c.Failures < 0 {
		return fieldError(name+".Failures", c.Failures, "must not be negative (Unlimited switches the breaker off)")
	}
	if c.OpenFor < 0 {
		return fieldError(name+".OpenFor", c.OpenFor, "must not be negative")
	}
	return nil
}
