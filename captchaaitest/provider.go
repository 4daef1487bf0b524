package captchaaitest

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Provider is a fake CaptchaAI / 2captcha provider. Reach it in memory
// through Transport or Client (no sockets: works inside testing/synctest
// bubbles), or over loopback through NewServer. A Provider is an
// http.Handler too. It is safe for concurrent use.
//
// Nothing runs in the background: a task's slot frees when its solve time has
// passed, computed from timestamps when a request or Stats asks, and a task
// is forgotten 10 minutes of provider time after it was solved. The only
// timers are the injected delays of requests in progress, which Close ends.
// Create a Provider inside the synctest bubble that uses it: its clock starts
// at New.
type Provider struct {
	cfg     Config
	methods map[string]Method
	start   time.Time
	scale   float64
	done    chan struct{}
	close   sync.Once

	mu       sync.Mutex
	accounts map[string]*account
	tasks    map[int64]*task // accepted, until forget drops them
	nextID   int64
	oldest   int64            // tasks holds no id below it
	pools    map[string]*pool // Config.Pools, by type
	solveRNG *rand.Rand
	poolRNG  *rand.Rand
	seen     map[Endpoint]int // requests per fault counter, for FaultInfo.N
}

// New returns a Provider for cfg, its clock started. It panics if cfg is
// invalid (a negative TimeScale, a malformed key, ...), as httptest.NewServer
// panics when it cannot serve: the configuration is the test's own.
func New(cfg Config) *Provider {
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	p := &Provider{
		cfg:      cfg,
		methods:  DefaultMethods(),
		start:    time.Now(),
		scale:    cfg.TimeScale,
		done:     make(chan struct{}),
		accounts: make(map[string]*account),
		tasks:    make(map[int64]*task),
		pools:    newPools(cfg.Pools),
		// Two streams from one seed: the pool's draws never shift the solve times.
		solveRNG: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		poolRNG:  rand.New(rand.NewPCG(cfg.Seed, 0xbf58476d1ce4e5b9)),
		seen:     make(map[Endpoint]int),
	}
	if p.scale == 0 {
		p.scale = 1
	}
	p.cfg.Accounts = append([]Account(nil), cfg.Accounts...)
	if len(p.cfg.Accounts) == 0 {
		p.cfg.Accounts = []Account{{Key: DefaultKey}}
	}
	for _, a := range p.cfg.Accounts {
		p.accounts[a.Key] = newAccount(a)
	}
	maps.Copy(p.methods, cfg.Methods)
	return p
}

// Close ends the injected delays in progress; the requests waiting on them
// fail. Requests after Close fail in memory with ErrClosed. Close never
// fails and may be called more than once.
func (p *Provider) Close() error {
	p.close.Do(func() { close(p.done) })
	return nil
}

// Stats returns a snapshot of the accounting of the account with the given
// key; the zero Stats for an unknown key.
func (p *Provider) Stats(key string) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	acct := p.accounts[key]
	if acct == nil {
		return Stats{}
	}
	return acct.stats(p.now())
}

// now returns the provider time since New: real time multiplied by TimeScale.
func (p *Provider) now() time.Duration {
	d := time.Since(p.start)
	if p.scale == 1 {
		return d
	}
	return time.Duration(float64(d) * p.scale)
}

// realDur converts a provider duration to the real time it lasts.
func (p *Provider) realDur(d time.Duration) time.Duration {
	if p.scale == 1 {
		return d
	}
	return time.Duration(float64(d) / p.scale)
}

// wait sleeps for the provider duration d, or until ctx is done (ctx.Err()
// returned unchanged) or the provider is closed (ErrClosed).
func (p *Provider) wait(ctx context.Context, d time.Duration) error {
	if d = p.realDur(d); d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
}

// exchange is one request on its way through the provider: the fault chosen
// for it and the answer, before the fault shapes how the answer travels.
type exchange struct {
	p     *Provider
	fault Fault
	rep   reply
	acct  *account // counted in flight until finish; nil if none
}

// serve handles r, whose body has been read into body: it picks the fault,
// then (unless the fault stops the request first) answers it. The caller
// must call finish once the answer's headers are out.
func (p *Provider) serve(r *http.Request, body []byte) *exchange {
	c := parseCall(r, body)
	p.mu.Lock()
	n := p.seen[counter(c.endpoint)]
	p.seen[counter(c.endpoint)]++
	p.mu.Unlock()

	ex := &exchange{p: p}
	if p.cfg.Faults != nil {
		// Outside the lock: the user's function may take its time.
		ex.fault = p.cfg.Faults(FaultInfo{Request: r, Endpoint: c.endpoint, N: n})
	}
	if !ex.fault.Kind.handled() {
		ex.rep = faultReply(ex.fault.Kind)
		return ex
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ex.rep, ex.acct = p.handle(&c, p.now(), ex.fault.Kind == NoSlot)
	if ex.acct != nil {
		ex.acct.inFlight++
		ex.acct.maxInFlight = max(ex.acct.maxInFlight, ex.acct.inFlight)
	}
	return ex
}

// finish ends the exchange's time in flight. It is safe to call twice.
func (ex *exchange) finish() {
	if ex.acct == nil {
		return
	}
	ex.p.mu.Lock()
	ex.acct.inFlight--
	ex.p.mu.Unlock()
	ex.acct = nil
}
