package slotguard

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// PollPacing paces res.php action=get polls, which pass through untouched
// when it is off. The provider asks for a first poll no sooner than 5 s
// after the submit (15 s for reCAPTCHA-like tasks) and then one every 5 s,
// and blocks the key for 10 minutes past 20 x captchas + 1200 polls
// (ERROR: 1005). With PollPacing on, a poll waits, cancellably, for
// whichever comes last: its task's first-poll delay, 5 s after the task's
// previous poll, and room under that line (kept 100 polls below it, over a
// rolling hour). CAPCHA_NOT_READY is progress: it never touches the breaker.
type PollPacing struct {
	// Enabled switches poll pacing on. The zero value: off.
	Enabled bool
	// First is the delay from an accepted submit to its first poll.
	// 0: 5s.
	First time.Duration
	// FirstSlow is First for reCAPTCHA-like tasks (userrecaptcha,
	// hcaptcha, funcaptcha; createTask types naming them). 0: 15s.
	FirstSlow time.Duration
	// Every is the least time between two polls of one task. 0: 5s.
	Every time.Duration
}

func (p PollPacing) validate(name string) error {
	for _, f := range []struct {
		n string
		d time.Duration
	}{{"First", p.First}, {"FirstSlow", p.FirstSlow}, {"Every", p.Every}} {
		if f.d < 0 {
			return fieldError(name+"."+f.n, f.d, "must not be negative")
		}
	}
	return nil
}

// maxPollTasks bounds the tasks remembered for poll spacing; past it the
// oldest are forgotten (their next poll is then spaced by the budget only).
const maxPollTasks = 1 << 16

type pollPacer struct {
	first, firstSlow, every time.Duration
	margin                  int

	mu       sync.Mutex
	tasks    map[string]time.Time // task id: earliest next poll
	polls    window               // polls sent, last hour
	accepted window               // submits accepted, last hour
}

func newPollPacer(c PollPacing, scale float64) *pollPacer {
	return &pollPacer{
		first:     scaled(cmp.Or(c.First, 5*time.Second), scale),
		firstSlow: scaled(cmp.Or(c.FirstSlow, 15*time.Second), scale),
		every:     scaled(cmp.Or(c.Every, 5*time.Second), scale),
		margin:    100,
		tasks:     make(map[string]time.Time),
		polls:     newWindow(scaled(time.Hour, scale), 60),
		accepted:  newWindow(scaled(time.Hour, scale), 60),
	}
}

// submitted records an accepted submit, whose answer is resp's body; slow
// for a reCAPTCHA-like task, polled first later.
func (p *pollPacer) submitted(slow bool, resp *http.Response) {
	ab, ok := resp.Body.(*answerBody)
	if !ok || ab.rest != nil {
		return
	}
	a, ok := parseAnswer(ab.b)
	if !ok || !a.accepted {
		return
	}
	first := p.first
	if slow {
		first = p.firstSlow
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accepted.add(now, 1)
	if len(p.tasks) >= maxPollTasks {
		p.forget(now)
	}
	p.tasks[string(a.id)] = now.Add(first)
}

// forget drops the tasks whose next poll is long past; if none is, all.
func (p *pollPacer) forget(now time.Time) {
	for id, next := range p.tasks {
		if now.Sub(next) > time.Hour {
			delete(p.tasks, id)
		}
	}
	if len(p.tasks) >= maxPollTasks {
		clear(p.tasks)
	}
}

// wait waits until poll id may go: its task's next poll time, and room
// under the poll line. It counts the wait in st.
func (p *pollPacer) wait(ctx context.Context, id string, st *counters) error {
	for {
		wait := p.reserve(id, time.Now())
		if wait == 0 {
			st.polls.Add(1)
			return nil
		}
		start := time.Now()
		err := sleep(ctx, wait)
		st.pollWait.Add(int64(time.Since(start)))
		if err != nil {
			return err
		}
	}
}

// ended forgets task id: it needs no more polls.
func (p *pollPacer) ended(id string) {
	p.mu.Lock()
	delete(p.tasks, id)
	p.mu.Unlock()
}

// poll sends a request that is not a submit. A poll for a task (res.php
// action=get, getTaskResult) waits for its turn with Config.Polls, and its
// answer is read to see the task end: then its pacing is forgotten and,
// with Config.Threads, its thread permit given back. Everything else goes
// straight to base.
func (t *Transport) poll(req *http.Request) (*http.Response, error) {
	req, id, err := pollTask(req, t.threads != nil)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return t.base.RoundTrip(req)
	}
	if t.polls != nil {
		if err := t.polls.wait(req.Context(), id, &t.stats); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	switch pollAnswerState(resp) {
	case pollEnded:
		if t.polls != nil {
			t.polls.ended(id)
		}
		if t.threads != nil {
			t.taskEnded(req.Context(), id, releasePolled)
		}
	case pollPending:
		if t.threads != nil {
			t.threads.pending(id)
		}
	}
	return resp, nil
}

// pollAnswerState peeks at a poll's answer, handing the same bytes back,
// and reports what it says of its task.
func pollAnswerState(resp *http.Response) int {
	body, got := peekAnswer(resp, nil)
	switch got {
	case answerComplete:
		if b, ok := decoded(resp, body.b); ok {
			return parsePoll(b)
		}
	case answerLong:
		// A long solution (a reCAPTCHA token runs to kilobytes).
		if _, plain := decoded(resp, nil); plain && pollPrefixEnded(body.b) {
			return pollEnded
		}
	}
	return pollUnknown
}

// maxPollBody bounds a getTaskResult request body read for its taskId.
const maxPollBody = 64 << 10

// pollTask returns the task id a request polls: res.php action=get's id,
// or, when withBody is set, getTaskResult's taskId, read from its body (the
// request returned then carries a copy of it). "" for anything else.
func pollTask(req *http.Request, withBody bool) (*http.Request, string, error) {
	p := req.URL.Path
	switch {
	case strings.HasSuffix(p, "/res.php"):
		q := req.URL.Query()
		if q.Get("action") != "get" {
			return req, "", nil
		}
		return req, q.Get("id"), nil
	case withBody && strings.HasSuffix(p, "/getTaskResult"):
		// Read from slotguard's own copy: the caller's GetBody may rewind
		// the very body the request carries (go-retryablehttp's does).
		r, replay, err := prepareBody(req, maxPollBody, true)
		if err != nil {
			return r, "", err
		}
		b := replay.head
		f, ok := scanFlat(b)
		if !ok {
			f, ok = scanStd(b)
		}
		if !ok || f.taskID.kind != 's' && f.taskID.kind != 'n' {
			return r, "", nil
		}
		return r, string(f.taskID.b), nil
	}
	return req, "", nil
}

// reserve takes the poll's turn now, or says how long until it may try.
func (p *pollPacer) reserve(id string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if next, ok := p.tasks[id]; ok && next.After(now) {
		return next.Sub(now)
	}
	p.polls.advance(now)
	p.accepted.advance(now)
	if line := 20*p.accepted.sum + 1200 - p.margin; p.polls.sum >= line {
		return p.polls.untilFree(now)
	}
	p.polls.add(now, 1)
	if len(p.tasks) >= maxPollTasks {
		p.forget(now)
	}
	p.tasks[id] = now.Add(p.every)
	return 0
}
