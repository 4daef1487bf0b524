package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

// workload is what every policy faces, the same for each: one fake account,
// its workers and their tasks. Durations are provider time.
type workload struct {
	Slots     int
	Workers   int
	SolveMin  time.Duration
	SolveMax  time.Duration
	Duration  time.Duration
	Speed     float64
	Seed      uint64
	Bans      bool
	Hour      int           // UTC hour the provider's day starts at, with the shared pool on; -1: no shared pool
	FirstPoll time.Duration // from acceptance to the first res.php poll
	PollEvery time.Duration // between polls while CAPCHA_NOT_READY
	Pause     time.Duration // a worker's pause after it gave a task up
	Collapse  int           // slots left from 1/3 to 2/3 of Duration, then Slots again; -1: no collapse
	Fleet     int           // processes sharing the API key, the workers dealt out among them
	Redis     string        // host:port of the Redis that the -shared policies use; "": none
	Bypass    string        // how the thread-permit policies' workers poll: "" through the Transport; bypassTaskDone, bypassCeiling around it
	Arrivals  float64       // open-loop demand, tasks per second, instead of Workers; 0: closed loops (arrivals.go)
	Deadline  time.Duration // with Arrivals: a task not accepted within it of its arrival is missed; 0: none

	// -mix and -type-outage (mix.go).
	Mix        string // the share of tasks per in.php method, as -mix takes it (parseMix); "": defaultMix
	TypeOutage string // the captcha type (or a method of it) whose workers are out from 1/3 to 2/3 of Duration; "": none

	warn       io.Writer     // where the -shared policies' processes log a fallback to local limits; nil: nowhere
	timerDelay time.Duration // tests: real time added to each clock sleep's wake (lateness.go); 0 in the command
}

// defaultWorkload is the workload of `go run ./cmd/slotbench` without flags:
// a 20-thread account, reCAPTCHA solve times, and 50 workers that offer it
// about twice what it can take. Each worker needs about 15-30 s per task
// once accepted (first poll at 15 s, then every 5 s) while the account
// finishes one task a second (20 slots / 20 s mean solve): 50 workers offer
// about 2.2 tasks a second.
func defaultWorkload() workload {
	return workload{
		Slots:    20,
		Workers:  50,
		SolveMin: 10 * time.Second,
		SolveMax: 30 * time.Second,
		Duration: 10 * time.Minute,
		Speed:    150,
		Seed:     1,
		Bans:     true,
		Hour:     -1,
		// Poll schedule: 2captcha's limits page (https://2captcha.com/api-docs/limits)
		// asks to wait 10-20 s after a reCAPTCHA upload, then to poll every
		// 5 s while CAPCHA_NOT_READY; CaptchaAI gives the same 5 s. We take
		// 15 s, the middle, for the first poll.
		FirstPoll: 15 * time.Second,
		PollEvery: 5 * time.Second,
		// A worker that gave a task up waits as long as the providers ask
		// after an error ("make a 5 seconds timeout before sending next
		// request", 2captcha limits) before it starts the next one. Without
		// it a loop that loses tasks at once (a banned key) would spin.
		Pause:    5 * time.Second,
		Collapse: -1,
		Fleet:    1,
		Mix:      defaultMix,
	}
}

// The values of -bypass: how the workers of a policy with thread permits
// (slotguard-threads) poll when their polls bypass its Transport, which then
// never sees a task end.
const (
	// bypassTaskDone: they poll through a plain client and call
	// Transport.TaskDone when a poll sees the task end.
	bypassTaskDone = "taskdone"
	// bypassCeiling: they poll through a plain client and never tell the
	// Transport: each permit goes back at its task's ceiling.
	bypassCeiling = "ceiling"
)

// collapse returns when the capacity collapse of -collapse starts and ends.
func (w workload) collapse() (from, to time.Duration) { return w.Duration / 3, 2 * w.Duration / 3 }

const (
	key    = captchaaitest.DefaultKey
	method = "userrecaptcha"
	base   = "http://captchaai.test" // any host reaches the in-memory provider
)

// clock reads provider time on the client side: real time since the run
// started, times the speed factor.
type clock struct {
	start time.Time
	speed float64
	late  *lateness // how late the sleeps woke; nil: not noted
}

func (c clock) now() time.Duration { return time.Duration(float64(time.Since(c.start)) * c.speed) }

// real converts a provider duration to the real time it lasts at this speed.
func (c clock) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.speed) }

// sleep waits the provider duration d, or until ctx ends.
func (c clock) sleep(ctx context.Context, d time.Duration) error {
	want := c.now() + d
	t := time.NewTimer(c.real(d))
	defer t.Stop()
	select {
	case <-t.C:
		c.woke(want)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// env is one policy's run: its own provider (same seed, so the same solve
// times for the same sequence of accepted tasks), the wire tap and the
// accounting.
type env struct {
	w     workload
	clock clock
	prov  *captchaaitest.Provider
	wire  *tap         // the provider's transport, counted
	plain *http.Client // over wire, for the hand-written loops
	rec   recorder
	arr   arrivalCounts // under -arrivals

	prefix  string   // Redis key prefix of this run's own
	closers []func() // run by close, last first
}

// onClose has f run when the run ends.
func (e *env) onClose(f func()) { e.closers = append(e.closers, f) }

// close ends the run's provider and everything the policy opened.
func (e *env) close() {
	for _, f := range slices.Backward(e.closers) {
		f()
	}
	e.prov.Close()
}

// outcome is how one task's submission ended.
type outcome struct {
	id     string // the task id when accepted
	reason string // why it was given up, when not accepted: a code, "circuit open", ...
	// polls is the client the task's polls go through: the policy's own,
	// so that it sees the task end (thread permits); nil: a plain client.
	polls *http.Client
	// ended, if not nil, is called when a poll sees the task end (solved
	// or unsolvable): the policy is told of it (-bypass taskdone).
	ended func()
}

func accepted(id string) outcome { return outcome{id: id} }
func lost(reason string) outcome { return outcome{reason: reason} }

// submitFunc submits one task by a policy's rules, retries included.
type submitFunc func(ctx context.Context) outcome

// capacity is the account's slot steps: none, or the collapse and the
// recovery of -collapse.
func (w workload) capacity() []captchaaitest.Step {
	if w.Collapse < 0 {
		return nil
	}
	from, to := w.collapse()
	return []captchaaitest.Step{{At: from, Slots: w.Collapse}, {At: to, Slots: w.Slots}}
}

// newEnv builds the provider for w. It must run in the goroutine (and, in
// tests, the synctest bubble) that runs the policy.
func newEnv(w workload) *env {
	cfg := captchaaitest.Config{
		Accounts:  []captchaaitest.Account{{Key: key, Slots: w.Slots, Balance: 1e6, Capacity: w.capacity()}},
		Methods:   w.methodsOf(),
		Pools:     w.pools(),
		Seed:      w.Seed,
		TimeScale: w.Speed,
	}
	if w.Hour >= 0 {
		cfg.StartOfDay = time.Duration(w.Hour) * time.Hour
		cfg.SharedPool = captchaaitest.PublishedHours()
	}
	if !w.Bans {
		cfg.No1001, cfg.No1002, cfg.No1003, cfg.NoMaxUserTurn, cfg.No1005 = true, true, true, true, true
	}
	e := &env{w: w, prov: captchaaitest.New(cfg)}
	if w.Redis != "" {
		e.prefix = newPrefix()
	}
	e.clock = clock{start: time.Now(), speed: w.Speed, late: &lateness{delay: w.timerDelay}}
	e.wire = &tap{base: e.prov.Transport(), clock: e.clock, end: w.Duration, outage: w.outageWindow()}
	e.plain = &http.Client{Transport: e.wire}
	return e
}

// runPolicy runs w under p and returns the measured result. progress, if
// not nil, is called now and then with the provider time so far.
func runPolicy(ctx context.Context, w workload, p policy, progress func(time.Duration)) (result, error) {
	e := newEnv(w)
	defer e.close()
	submits := make([]submitFunc, max(w.Fleet, 1))
	for proc := range submits {
		s, err := p.build(e, proc)
		if err != nil {
			return result{}, fmt.Errorf("policy %s: %w", p.name, err)
		}
		submits[proc] = s
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	if w.Arrivals > 0 {
		wg.Go(func() { e.arrive(ctx, &wg, submits) })
	}
	for i := range w.closedLoops() {
		submit := submits[i%len(submits)]
		draw := w.drawer(i)
		wg.Go(func() { e.worker(ctx, submit, draw) })
	}
	// The run ends at the deadline: the provider's accounting is read at
	// that instant, before the workers wind down.
	end := time.NewTimer(e.clock.real(w.Duration))
	defer end.Stop()
	var tick <-chan time.Time
	if progress != nil {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-end.C:
			break wait
		case <-ctx.Done():
			cancel()
			wg.Wait()
			return result{}, ctx.Err()
		case <-tick:
			progress(e.clock.now())
		}
	}
	st := e.prov.Stats(key)
	cancel()
	wg.Wait()
	return e.result(p, st), nil
}

// worker takes tasks one after another, each of the method draw gives:
// submit by the policy, poll until solved, next task. A task given up is
// followed by w.Pause.
func (e *env) worker(ctx context.Context, submit submitFunc, draw func() string) {
	for ctx.Err() == nil {
		start := e.clock.now()
		m := draw()
		out := submit(withMethod(ctx, m))
		switch {
		case out.id != "" && e.clock.now() <= e.w.Duration:
			e.rec.accepted(m, e.clock.now()-start)
			if e.poll(ctx, out.id, cmp.Or(out.polls, e.plain)) && out.ended != nil {
				out.ended()
			}
		case ctx.Err() != nil || e.clock.now() >= e.w.Duration:
			e.rec.cutOff() // the run ended before the task's fate was known
			return
		default:
			e.rec.lost(m, out.reason)
			e.clock.sleep(ctx, e.w.Pause)
		}
	}
}

// poll waits for the task's answer: first poll after w.FirstPoll, then every
// w.PollEvery while CAPCHA_NOT_READY. Any other answer ends the wait. It
// reports whether the answer said the task ended: solved, or unsolvable.
func (e *env) poll(ctx context.Context, id string, c *http.Client) (ended bool) {
	if e.clock.sleep(ctx, e.w.FirstPoll) != nil {
		return false
	}
	u := base + "/res.php?" + url.Values{"key": {key}, "action": {"get"}, "id": {id}, "json": {"1"}}.Encode()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false
		}
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		var a struct {
			Status  int    `json:"status"`
			Request string `json:"request"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&a)
		resp.Body.Close()
		if err != nil || a.Status == 1 || a.Request != slotguard.CodeNotReady {
			if err != nil || a.Status != 1 {
				e.rec.pollError()
			}
			return err == nil && (a.Status == 1 || a.Request == "ERROR_CAPTCHA_UNSOLVABLE")
		}
		if e.clock.sleep(ctx, e.w.PollEvery) != nil {
			return false
		}
	}
}

// submitOnce sends one submit through c and reads the answer. err is set
// when no answer could be read (transport error, cancelled context).
func submitOnce(ctx context.Context, c *http.Client) (slotguard.Answer, error) {
	req, err := submitRequest(ctx)
	if err != nil {
		return slotguard.Answer{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return slotguard.Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return slotguard.Answer{}, err
	}
	a, ok := slotguard.ParseAnswer(b)
	if !ok {
		return slotguard.Answer{}, fmt.Errorf("unreadable answer (HTTP %d)", resp.StatusCode)
	}
	return a, nil
}

// errReason names why a submit failed without an answer.
func errReason(err error) string {
	switch {
	case errors.Is(err, slotguard.ErrCircuitOpen):
		return "circuit open"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "transport error"
}
