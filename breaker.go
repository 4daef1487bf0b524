package slotguard

import (
	"cmp"
	"errors"
	"math"
	"sync"
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
// gobreaker's two-step breaker counting NO_SLOT answers (nil: none), one
// per task type for the Transport (NO_SLOT is per worker pool: one type's
// shortage must not hold the others), and the holds of the provider's
// bans, which block the whole key whatever the runs say.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}] // the untyped run, and the Breaker stage's
	scale    float64                                    // Config.TimeScale, for the ban holds
	ban      atomic.Pointer[banHold]
	openFor  time.Duration // cb's timeout, when newBreaker built it
	openedAt sync.Map      // a run's name: Unix nanoseconds of its last opening
	shared   sync.Map      // a run's name: the opening last claimed for the shared breaker
	opens    atomic.Int64  // openings so far, every type's
	logged   atomic.Int64  // openings already logged
	// reasserted is when each opening (the ban's, each shared type's run)
	// was last written to the shared breaker again: *atomic.Int64, Unix ns.
	reasserted sync.Map

	settings gobreaker.Settings // for the typed runs; zero when newBreaker did not build cb
	mu       sync.Mutex
	typed    map[string]*gobreaker.TwoStepCircuitBreaker[struct{}] // by task type, at most maxTypes
}

// maxTypes bounds the task types kept apart (breaker runs, Stats.ByType):
// past it, new types share the untyped state, so that a caller who sends
// random method names cannot grow memory without bound.
const maxTypes = 32

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
	st.OnStateChange = func(name string, _, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			b.openedAt.Store(name, time.Now().UnixNano())
			b.opens.Add(1)
		}
	}
	b.openFor = st.Timeout
	b.settings = st
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	return b
}

// cbFor is the NO_SLOT run of task type typ: its own, made on first use,
// or the untyped one for "" and past maxTypes types.
func (b *breaker) cbFor(typ string) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	if typ == "" || b.cb == nil || b.settings.ReadyToTrip == nil {
		return b.cb
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cb, ok := b.typed[typ]
	if !ok {
		if len(b.typed) >= maxTypes {
			return b.cb
		}
		if b.typed == nil {
			b.typed = make(map[string]*gobreaker.TwoStepCircuitBreaker[struct{}])
		}
		st := b.settings
		st.Name = "slotguard " + typ
		cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
		b.typed[typ] = cb
	}
	return cb
}

// sharedType is the type under which the shared breaker keeps typ's run:
// typ, or "" when typ shares the untyped run here (past maxTypes types).
// Without NO_SLOT runs here, typ itself: the shared breaker bounds its own.
func (b *breaker) sharedType(typ string) string {
	if cb := b.cbFor(typ); cb != nil && cb == b.cb {
		return ""
	}
	return typ
}

// claimOpening reports, once per opening, that the run typ's answers count
// in has opened since the last call: the opening to share with the fleet,
// for that run's type only. (newlyOpened is every type's, for the log: a
// NO_SLOT of one type must not claim another type's opening.)
func (b *breaker) claimOpening(typ string) bool {
	cb := b.cbFor(typ)
	if cb == nil {
		return false
	}
	at, ok := b.openedAt.Load(cb.Name())
	if !ok {
		return false
	}
	old, ok := b.shared.Load(cb.Name())
	if !ok {
		_, loaded := b.shared.LoadOrStore(cb.Name(), at)
		return !loaded
	}
	return old != at && b.shared.CompareAndSwap(cb.Name(), old, at)
}

// reassertDue reports, at most once a second for each opening (the ban's,
// or the run of shared type typ), that it is time to write it to the shared
// breaker again: one type's refusals must not use up another's.
func (b *breaker) reassertDue(typ, code string) bool {
	key := "type " + typ
	if code != "" {
		key = "ban"
	}
	v, ok := b.reasserted.Load(key)
	if !ok {
		v, _ = b.reasserted.LoadOrStore(key, new(atomic.Int64))
	}
	at := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	last := at.Load()
	return now-last >= int64(time.Second) && at.CompareAndSwap(last, now)
}

// banned reports whether a ban the provider answered holds the key now.
func (b *breaker) banned(now time.Time) bool {
	h := b.ban.Load()
	return h != nil && now.Before(h.until)
}

// typeStates returns the state of each typed run.
func (b *breaker) typeStates() map[string]gobreaker.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]gobreaker.State, len(b.typed))
	for typ, cb := range b.typed {
		m[typ] = cb.State()
	}
	return m
}

func noop(error) {}

// allow asks whether a submit may go now. On yes, the caller must call done
// exactly once, through report or with errNeutral.
func (b *breaker) allow(typ string) (done func(error), err error) {
	if h := b.ban.Load(); h != nil && time.Now().Before(h.until) {
		return nil, &OpenError{Code: h.code, Until: h.until}
	}
	cb := b.cbFor(typ)
	if cb == nil {
		return noop, nil
	}
	done, err = cb.Allow()
	if err != nil {
		e := &OpenError{}
		if at, ok := b.openedAt.Load(cb.Name()); ok && errors.Is(err, gobreaker.ErrOpenState) && b.openFor > 0 {
			e.Until = time.Unix(0, at.(int64)).Add(b.openFor)
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
	// The key's state is its worst run's: open when one is.
	worst := b.cb.State()
	for _, s := range b.typeStates() {
		if s == gobreaker.StateOpen || s == gobreaker.StateHalfOpen && worst == gobreaker.StateClosed {
			worst = s
		}
	}
	return worst
}

// BreakerConfig configures the circuit breaker (see Breaker). A Transport
// keeps the run of NO_SLOT answers per task type (TaskType, for the first
// 32 types seen): NO_SLOT means every worker of the requested type is
// busy, so one type's shortage opens that type's breaker only. A ban the
// provider answers blocks the whole key. With Shared.Breaker, the fleet
// shares them alike: a type's opening for that type, a ban for the key.
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
