package slotguard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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

// submitted records an accepted submit, whose answer is resp's body.
func (p *pollPacer) submitted(req *http.Request, resp *http.Response) {
	ab, ok := resp.Body.(*answerBody)
	if !ok || ab.rest != nil {
		return
	}
	a, ok := parseAnswer(ab.b)
	if !ok || !a.accepted {
		return
	}
	first := p.first
	if slowMethod(req) {
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

// roundTrip sends a poll when its time has come.
func (p *pollPacer) roundTrip(t *Transport, req *http.Request) (*http.Response, error) {
	id, ok := pollID(req)
	if !ok {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	for {
		wait := p.reserve(id, time.Now())
		if wait == 0 {
			break
		}
		start := time.Now()
		err := sleep(ctx, wait)
		t.stats.pollWait.Add(int64(time.Since(start)))
		if err != nil {
			closeBody(req)
			return nil, err
		}
	}
	t.stats.polls.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp, act := inspect(resp, t.retry.provider, nil)
	if act.verdict == verdictAccepted || act.code != "" && act.code != CodeNotReady && act.code != codeUnreadable {
		// Solved, or a final error: the task needs no more polls.
		p.mu.Lock()
		delete(p.tasks, id)
		p.mu.Unlock()
	}
	return resp, nil
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

// pollID returns the task id of a res.php action=get poll.
func pollID(req *http.Request) (string, bool) {
	if !strings.HasSuffix(req.URL.Path, "/res.php") {
		return "", false
	}
	q := req.URL.Query()
	if q.Get("action") != "get" || q.Get("id") == "" {
		return "", false
	}
	return q.Get("id"), true
}

// slowMethod reports whether a submit is for a reCAPTCHA-like task, which
// the provider solves in 15 s or more. It reads the method from the query,
// or from a replayable urlencoded or createTask body.
func slowMethod(req *http.Request) bool {
	m := req.URL.Query().Get("method")
	if m == "" && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		body.Close()
		switch {
		case strings.HasSuffix(req.URL.Path, "/createTask"):
			var v struct {
				Task struct {
					Type string `json:"type"`
				} `json:"task"`
			}
			json.Unmarshal(b, &v)
			m = v.Task.Type
		case bytes.Contains(b, []byte("method=")):
			q, _ := url.ParseQuery(string(b))
			m = q.Get("method")
		}
	}
	m = strings.ToLower(m)
	for _, slow := range []string{"recaptcha", "hcaptcha", "funcaptcha"} {
		if strings.Contains(m, slow) {
			return true
		}
	}
	return false
}
