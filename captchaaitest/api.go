package captchaaitest

import (
	"net/http"
	"time"
)

// handle answers c at provider time now. noSlot is set by the NoSlot fault:
// the submit finds no free slot whatever the account holds. It returns the
// account the request belongs to, nil if none. The caller holds p.mu.
func (p *Provider) handle(c *call, now time.Duration, noSlot bool) (reply, *account) {
	if c.endpoint == Other {
		return reply{http.StatusNotFound, ctypeText, []byte("404 page not found\n")}, nil
	}
	// Key checks come first, as on the provider: a wrong-format key is
	// ERROR_WRONG_USER_KEY, a well-formed unknown one ERROR_KEY_DOES_NOT_EXIST.
	// The v2 API knows only the second.
	if !validKey(c.key) {
		if c.endpoint == In || c.endpoint == Res {
			return p.refuse(c, codeWrongUserKey), nil
		}
		return p.refuse(c, codeKeyNotExist), nil
	}
	acct := p.accounts[c.key]
	if acct == nil {
		return p.refuse(c, codeKeyNotExist), nil
	}
	if c.endpoint.Submit() {
		return p.submit(c, acct, now, noSlot), acct
	}
	return p.poll(c, acct, now), acct
}

// refuse formats an error answer for c's endpoint.
func (p *Provider) refuse(c *call, code string) reply {
	if c.endpoint == CreateTask || c.endpoint == GetTaskResult {
		return v2Err(code)
	}
	return v1(c, false, code)
}

// submit handles in.php and createTask. The order of the checks is the
// fake's reading of the documentation: the request-rate limit counts every
// in.php request; then the bans in force; then the parameters; then the
// balance; then the slots, counted at now (Account.Capacity); then the
// workers of the task's type (Config.Pools). Only an accepted task is billed.
func (p *Provider) submit(c *call, acct *account, now time.Duration, noSlot bool) reply {
	pen := &acct.pen
	if pen.turnstile(now, &p.cfg) {
		acct.reject(codeMaxUserTurn, codeMaxUserTurn)
		return p.refuse(c, codeMaxUserTurn)
	}
	if ban := pen.banned(now, submitBans...); ban != "" {
		acct.reject(ban, "")
		return p.refuse(c, ban)
	}
	m, known := p.methods[c.method]
	code := c.bad
	if code == "" && !known {
		code = codeBadParameters
	}
	if code != "" {
		acct.reject(code, "")
		return p.refuse(c, code)
	}
	price := micros(m.Price)
	if acct.balance < price || acct.balance <= 0 {
		acct.reject(codeZeroBalance, pen.afterZeroBalance(now, &p.cfg))
		return p.refuse(c, codeZeroBalance)
	}
	typ := PoolOf(c.method)
	ts := acct.byType(typ)
	pl := p.pools[typ]
	// The account's threads first, then the type's workers (issue 14), then
	// the shared pool's draw: a refusal by the type's pool takes nothing
	// from the shared pool's generator.
	acctFull := noSlot || !acct.freeSlot(now)
	typeFull := !acctFull && pl != nil && pl.full(now)
	if acctFull || typeFull || p.poolFull(now) {
		ts.NoSlot++
		if typeFull {
			ts.PoolNoSlot++
		}
		acct.noSlot(now)
		acct.reject(codeNoSlot, pen.afterNoSlot(now, &p.cfg))
		return p.refuse(c, codeNoSlot)
	}

	p.nextID++
	t := &task{id: p.nextID, acct: acct, method: c.method, at: now, solve: p.drawSolve(m), price: price}
	p.tasks[t.id] = t
	p.forget(now) // the map grows only here, so here is enough to keep it flat
	acct.active = append(acct.active, t)
	if pl != nil {
		pl.active = append(pl.active, t)
	}
	ts.Accepted++
	acct.balance -= price
	acct.accepted++
	pen.accepted(now)
	if c.endpoint == CreateTask {
		return jsonReply(v2Created{TaskID: t.id})
	}
	return v1(c, true, itoa64(t.id))
}

// drawSolve draws a solve time in [m.MinSolve, m.MaxSolve], in whole
// milliseconds when the range allows. Only accepted tasks draw, so the same
// Seed gives the same solve times for the same sequence of accepted tasks.
func (p *Provider) drawSolve(m Method) time.Duration {
	span := m.MaxSolve - m.MinSolve
	if span <= 0 {
		return m.MinSolve
	}
	if span < time.Millisecond {
		return m.MinSolve + time.Duration(p.solveRNG.Int64N(int64(span)+1))
	}
	return m.MinSolve + time.Duration(p.solveRNG.Int64N(int64(span/time.Millisecond)+1))*time.Millisecond
}

// poolFull reports whether the shared pool refuses a submit that found a
// free slot of its own, drawn from its own generator so that the pool model
// does not change the solve times.
func (p *Provider) poolFull(now time.Duration) bool {
	day := (p.cfg.StartOfDay + now) % (24 * time.Hour)
	load := p.cfg.SharedPool[int(day/(6*time.Hour))]
	return load > 0 && p.poolRNG.Float64() < load
}

// poll handles res.php and getTaskResult. Every request counts towards the
// ERROR: 1005 limit, whatever its action.
func (p *Provider) poll(c *call, acct *account, now time.Duration) reply {
	acct.polls++
	if code, started := acct.pen.poll(now, &p.cfg); code != "" {
		ban := ""
		if started {
			ban = code
		}
		acct.reject(code, ban)
		return p.refuse(c, code)
	}
	if c.endpoint == GetTaskResult {
		t := p.lookup(acct, c.id, now)
		switch {
		case t == nil:
			return p.refuse(c, codeNoSuchCaptcha)
		case now < t.end():
			return jsonReply(v2Result{Status: "processing"})
		}
		return jsonReply(v2Result{Status: "ready", Solution: solution(t.method, t.id), Cost: usd(t.price)})
	}
	switch c.action {
	case "get":
		if _, ok := taskID(c.id); !ok {
			return p.refuse(c, codeWrongID)
		}
		t := p.lookup(acct, c.id, now)
		switch {
		case t == nil:
			return p.refuse(c, codeWrongCaptcha)
		case now < t.end():
			return p.refuse(c, codeNotReady)
		}
		return v1(c, true, answer(t.method, t.id))
	case "getbalance":
		// The balance alone, without "OK|": "99.997".
		if c.json {
			return v1(c, true, usd(acct.balance))
		}
		return reply{http.StatusOK, ctypeText, []byte(usd(acct.balance))}
	case "reportbad", "reportgood":
		if p.lookup(acct, c.id, now) == nil {
			return p.refuse(c, codeWrongCaptcha)
		}
		if c.json {
			return v1(c, true, codeReportOK)
		}
		return reply{http.StatusOK, ctypeText, []byte(codeReportOK)}
	}
	return p.refuse(c, codeEmptyAction)
}

// keepSolved is how long the provider remembers a task after it was solved
// (provider time). Later, its id is unknown: res.php answers
// ERROR_WRONG_CAPTCHA_ID and getTaskResult ERROR_NO_SUCH_CAPCHA_ID, as for an
// id never given. CaptchaAI and 2captcha publish no figure; Anti-Captcha
// keeps a task 60 s after it is solved
// (https://anti-captcha.com/faq/187_i_m_getting_an_error__code_from_the_api).
// The fake keeps it longer, so that only a client that lost track of its
// task sees it go, and forgets it so that a long run holds flat memory
// (issue 11).
const keepSolved = 10 * time.Minute

// lookup returns acct's task with the given id, or nil: another key's task,
// or one solved keepSolved or longer before now, is as unknown as a missing
// one.
func (p *Provider) lookup(acct *account, id string, now time.Duration) *task {
	n, ok := taskID(id)
	if !ok {
		return nil
	}
	t := p.tasks[n]
	if t == nil || t.acct != acct || now >= t.end()+keepSolved {
		return nil
	}
	return t
}

// forget drops the tasks solved keepSolved or longer before now, oldest id
// first, and stops at the first one still remembered. A task with a long
// solve time thus keeps the later ones in the map a while longer; lookup
// checks the time itself, so that the answer never depends on it.
func (p *Provider) forget(now time.Duration) {
	for ; p.oldest <= p.nextID; p.oldest++ {
		t := p.tasks[p.oldest]
		if t != nil && now < t.end()+keepSolved {
			return
		}
		delete(p.tasks, p.oldest)
	}
}
