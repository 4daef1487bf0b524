package redisguard

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
)

// Fleet is the shared state of the processes that use one API key: a
// pacer, a ban budget, a breaker and the thread permits, all in Redis. Hand
// Shared() to slotguard.Config.Shared; or pick the parts you want.
type Fleet struct {
	Pacer   *Pacer // nil when Config.Rate is math.Inf(1)
	Budget  *Budget
	Breaker *Breaker
	Threads *Threads

	link *link
}

// New returns the fleet state for apiKey in client's Redis, as cfg says. It
// reports an error naming the field when cfg is invalid (the zero Config is
// valid), and refuses a client that would not bound its calls by
// Config.Timeout (Options.ContextTimeoutEnabled false). It makes no Redis
// call: a Redis that is down at start is only an error at the first call.
func New(client redis.UniversalClient, apiKey string, cfg Config) (*Fleet, error) {
	if client == nil {
		return nil, errors.New("redisguard: nil client")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	base := KeyBase(cfg.Prefix, apiKey)
	l := &link{c: client, timeout: cfg.timeout(), backoff: cmp.Or(cfg.Backoff, defaultBackoff)}
	f := &Fleet{
		Budget:  newBudget(l, base, &cfg),
		Breaker: newBreaker(l, base, &cfg),
		Threads: newThreads(l, base, &cfg),
		link:    l,
	}
	if !math.IsInf(cfg.Rate, 1) {
		f.Pacer = newPacer(l, base, &cfg)
	}
	return f, nil
}

// scripts are every script redisguard runs, for Load.
var scripts = []*redis.Script{
	reserveScript, unreserveScript,
	admitScript, doneScript, usageScript,
	allowScript, openScript, closeScript, releaseScript,
	threadsAcquireScript, threadsAcceptedScript, threadsReleaseScript, threadsNoSlotScript, threadsDoneScript, threadsUsageScript,
}

// Load connects to Redis and loads redisguard's scripts, so that the first
// submit attempts do not spend their Config.Timeout on dialling and on
// loading scripts. Call it at start, with a deadline of your choosing; it
// also tells whether Redis is there. Without it, the first calls do this
// themselves, and may fail their timeout (the Transport then uses its
// local limits until a call succeeds). Load tries Redis even during a
// back-off (see Config.Backoff); its success ends the back-off, and its
// failure starts one.
func (f *Fleet) Load(ctx context.Context) error {
	c := f.link.force()
	err := f.load(ctx)
	f.link.leave(ctx, c, err)
	return err
}

func (f *Fleet) load(ctx context.Context) error {
	c := f.link.c
	if err := c.Ping(ctx).Err(); err != nil {
		return callError(ctx, "load", err)
	}
	for _, s := range scripts {
		if err := s.Load(ctx, c).Err(); err != nil {
			return callError(ctx, "load", err)
		}
	}
	return nil
}

// Shared returns the fleet's parts for slotguard.Config.Shared.
func (f *Fleet) Shared() slotguard.Shared {
	var s slotguard.Shared
	if f.Pacer != nil {
		s.Pacer = f.Pacer
	}
	if f.Budget != nil {
		s.Budget = f.Budget
	}
	if f.Breaker != nil {
		s.Breaker = f.Breaker
	}
	if f.Threads != nil {
		s.Threads = f.Threads
	}
	return s
}

// checkClient refuses the go-redis clients that ignore context deadlines on
// their sockets: a stalled Redis would then hold each call for ReadTimeout
// (3 s by default) whatever Config.Timeout says. Other UniversalClients are
// taken on trust.
func checkClient(c redis.UniversalClient) error {
	var on bool
	switch c := c.(type) {
	case *redis.Client:
		on = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		on = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		on = c.Options().ContextTimeoutEnabled
	default:
		return nil
	}
	if !on {
		return errors.New("redisguard: the client's Options.ContextTimeoutEnabled is false: go-redis would then ignore Config.Timeout and a stalled Redis would hold each submit for ReadTimeout; set it true")
	}
	return nil
}

// ErrTimeout is the cause of an *Error when Redis did not answer within
// Config.Timeout.
var ErrTimeout = errors.New("no answer within Config.Timeout")

// Error is the error of a Redis call that failed: Redis is down, slow
// (past Config.Timeout: Err is ErrTimeout) or answered something
// unexpected; or of a call skipped because one failed less than
// Config.Backoff ago (Err matches ErrBackoff, and that failure). It never
// matches a context error: when the request's context ends, the calls
// return ctx.Err() itself.
type Error struct {
	Op  string // "pacer", "budget admit", "breaker allow", ...
	Err error
}

func (e *Error) Error() string { return "redisguard: " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// newID returns a random process id, which keeps the members this process
// adds to the sorted sets apart from every other process's.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
