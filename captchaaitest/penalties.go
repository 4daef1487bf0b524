package captchaaitest

import "time"

// The published penalties (CaptchaAI https://docs.captchaai.com/api/api-error-handling,
// 2captcha https://2captcha.com/api-docs/limits). Durations are provider time.
const (
	// ERROR: 1001: "120 ERROR_NO_SLOT_AVAILABLE errors in one minute",
	// blocked for 10 minutes.
	limit1001, window1001, ban1001 = 120, time.Minute, 10 * time.Minute
	// ERROR: 1002: 120 ERROR_ZERO_BALANCE errors in one minute, 5 minutes.
	limit1002, window1002, ban1002 = 120, time.Minute, 5 * time.Minute
	// ERROR: 1003: NO_SLOT answers at least 3 times the captchas sent, over
	// the last minute, counted only once NO_SLOT reaches 120; 30 seconds.
	ratio1003, window1003, ban1003 = 3, time.Minute, 30 * time.Second
	// MAX_USER_TURN: "more than 60 requests to in.php within 3 seconds",
	// blocked for 10 seconds.
	limitTurn, windowTurn, banTurn = 60, 3 * time.Second, 10 * time.Second
	// ERROR: 1005: res.php requests over 20 x captchas + 1200. The
	// documentation counts both over the last hour, so the fake uses a
	// rolling hour; blocked for 10 minutes.
	factor1005, base1005, window1005, ban1005 = 20, 1200, time.Hour, 10 * time.Minute
)

// window counts events in a rolling window of provider time: an event at t
// counts while now-t < width. Events are appended in time order, so expiry
// pops from the front.
type window struct {
	width time.Duration
	at    []time.Duration
	head  int
}

// add records an event at now. It drops the expired events first, so that a
// window nobody counts (its penalty turned off, or the accepted tasks of
// ERROR: 1003, read only once NO_SLOT reaches 120) still holds no more than
// the events within its width (issue 11).
func (w *window) add(now time.Duration) {
	w.expire(now)
	w.at = append(w.at, now)
}

// reset forgets every event. A block that starts resets the counts that
// caused it: the fake's reading, so that a client that waits a block out is
// not blocked again at once by its own past (without it, the rolling hour of
// ERROR: 1005 would outlast its 10-minute block).
func (w *window) reset() { w.at, w.head = w.at[:0], 0 }

// count returns the events within the window at now.
func (w *window) count(now time.Duration) int {
	w.expire(now)
	return len(w.at) - w.head
}

// expire drops the events that are out of the window at now.
func (w *window) expire(now time.Duration) {
	for w.head < len(w.at) && now-w.at[w.head] >= w.width {
		w.head++
	}
	// Compact once the expired prefix is most of the slice, so memory stays
	// proportional to the events in the window.
	if w.head > 1024 && w.head*2 > len(w.at) {
		w.at = append(w.at[:0], w.at[w.head:]...)
		w.head = 0
	}
}

// penalties is one account's penalty state. The provider's lock guards it.
type penalties struct {
	noSlot, zeroBal, acceptedMin, turn window                   // minute and 3 s windows
	polls, acceptedHour                window                   // hour windows
	until                              map[string]time.Duration // ban code -> end
}

func newPenalties() penalties {
	return penalties{
		noSlot:       window{width: window1001},
		zeroBal:      window{width: window1002},
		acceptedMin:  window{width: window1003},
		turn:         window{width: windowTurn},
		polls:        window{width: window1005},
		acceptedHour: window{width: window1005},
		until:        make(map[string]time.Duration),
	}
}

// banned returns the code of the in.php ban in force at now, or "". A ban
// lifts exactly at its end: at now == end the key is free again.
func (p *penalties) banned(now time.Duration, codes ...string) string {
	for _, code := range codes {
		if now < p.until[code] {
			return code
		}
	}
	return ""
}

// submitBans are the bans that block in.php and createTask, in the order
// they are reported when several are in force.
var submitBans = []string{codeBan1001, codeBan1002, codeBan1003, codeMaxUserTurn}

// turnstile records one in.php request and reports whether it is one too
// many: the 61st request within 3 s is answered MAX_USER_TURN itself, and
// the 10 s block starts with it. Requests refused by a ban count too (the
// limit is on requests, not on tasks), but they do not extend a block in
// force.
func (p *penalties) turnstile(now time.Duration, cfg *Config) bool {
	p.turn.add(now)
	if cfg.NoMaxUserTurn || p.turn.count(now) <= limitTurn {
		return false
	}
	if p.banned(now, codeMaxUserTurn) != "" {
		return false // already blocked: the block is not extended
	}
	p.until[codeMaxUserTurn] = now + banTurn
	p.turn.reset()
	return true
}

// afterNoSlot records a NO_SLOT answer at now and starts a ban if it reached
// a threshold. Reading of the rules: the 120th NO_SLOT is itself still
// answered NO_SLOT; the block starts right after it, so the next in.php
// request gets ERROR: 1001. Both 1001 and 1003 are judged at that moment;
// 1001 is the longer and wins, so 1003 alone is seen with No1001 set (or
// when 1001 is off while NO_SLOT keeps at or above 120 a minute). It
// returns the ban started, or "".
func (p *penalties) afterNoSlot(now time.Duration, cfg *Config) string {
	p.noSlot.add(now)
	n := p.noSlot.count(now)
	if n < limit1001 {
		return ""
	}
	if !cfg.No1001 {
		p.until[codeBan1001] = now + ban1001
		p.noSlot.reset()
		return codeBan1001
	}
	if !cfg.No1003 && n >= ratio1003*p.acceptedMin.count(now) {
		p.until[codeBan1003] = now + ban1003
		p.noSlot.reset()
		return codeBan1003
	}
	return ""
}

// afterZeroBalance records a ZERO_BALANCE answer, as afterNoSlot does for
// ERROR: 1002.
func (p *penalties) afterZeroBalance(now time.Duration, cfg *Config) string {
	p.zeroBal.add(now)
	if cfg.No1002 || p.zeroBal.count(now) < limit1002 {
		return ""
	}
	p.until[codeBan1002] = now + ban1002
	p.zeroBal.reset()
	return codeBan1002
}

// accepted records an accepted task for the 1003 and 1005 ratios.
func (p *penalties) accepted(now time.Duration) {
	p.acceptedMin.add(now)
	p.acceptedHour.add(now)
}

// poll records one res.php or getTaskResult request and returns the 1005
// code if it is refused: either a ban is in force, or this request takes the
// hour's count over 20 x accepted + 1200 (it is answered ERROR: 1005 itself
// and the block starts with it). Requests refused during the block are not
// counted.
func (p *penalties) poll(now time.Duration, cfg *Config) (code string, started bool) {
	if cfg.No1005 {
		return "", false
	}
	if p.banned(now, codeBan1005) != "" {
		return codeBan1005, false
	}
	p.polls.add(now)
	if p.polls.count(now) > factor1005*p.acceptedHour.count(now)+base1005 {
		p.until[codeBan1005] = now + ban1005
		p.polls.reset()
		return codeBan1005, true
	}
	return "", false
}
