package redisguard

import (
	"cmp"
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Pacer paces the submit attempts of every process of the fleet together:
// one GCRA schedule in Redis (the algorithm of redis_rate and of
// x/time/rate), one token per attempt. It implements slotguard.Waiter, and
// SetLimit, so slotguard's hourly schedule moves it (its adaptive pacing
// adapts per task type in each process, below this pace).
//
// Wait reserves: one script call moves the schedule's theoretical arrival
// time (TAT) one interval on and tells the caller when its slot comes, and
// the caller sleeps until then, as rate.Limiter.Wait does. That, and not
// throughput, is why this is a script of its own rather than redis_rate.
// redis_rate's allow-or-retry loop (Allow, then sleep RetryAfter) loses the
// time between a token falling due and the waiter's next call, since GCRA
// restarts the schedule from now, but little: measured 3-5 % under the rate
// at burst 1 and 50-100/s with one waiter per client, and nothing at burst 2
// or at the fleet's 2/s. What reserving gives is order and quiet: waiters
// do not all wake and call Redis for every token (no thundering herd of
// Allow calls), they are served first come first served, and a wait that
// ends early (the context) gives its slot back when no later one was
// reserved, as rate.Limiter does (otherwise the slot stays unused, which
// errs on the slow side). And it takes float rates, as slotguard's adaptive
// pacing sets them, where redis_rate counts whole events per period. It
// costs one round trip per attempt.
//
// The limit travels with each call rather than living in Redis: each
// process's SetLimit moves its own draws (each token it takes moves the
// shared schedule by its own interval), and the fleet's rate lies between
// its processes' limits. With one Config and no adaptive pacing they agree.
type Pacer struct {
	l     *link
	keys  []string
	burst int
	limit atomic.Uint64 // math.Float64bits of attempts per second
}

func newPacer(l *link, base string, cfg *Config) *Pacer {
	p := &Pacer{
		l:     l,
		keys:  []string{base + "pacer"},
		burst: cmp.Or(cfg.Burst, 1),
	}
	p.SetLimit(rate.Limit(cmp.Or(cfg.Rate, defaultRate) * max(cfg.TimeScale, 1)))
	return p
}

// SetLimit sets this process's rate, attempts per second (already scaled,
// as slotguard's rate control passes it). rate.Inf (or more) lets every
// attempt through without asking Redis; 0 or less refuses every attempt
// with an error.
func (p *Pacer) SetLimit(r rate.Limit) { p.limit.Store(math.Float64bits(float64(r))) }

// Limit returns this process's rate, attempts per second.
func (p *Pacer) Limit() rate.Limit { return rate.Limit(math.Float64frombits(p.limit.Load())) }

var errZeroRate = errors.New("rate is 0")

// reserveScript: ARGV[1] the interval in µs, ARGV[2] the burst, ARGV[3]
// the longest wait worth reserving in µs (-1: any). It returns
// {1, wait µs, new TAT} for a reservation, or {0, wait µs} when the slot
// lies past the longest wait (nothing reserved). Times are the server's.
var reserveScript = redis.NewScript(luaNow + `
local interval, burst, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local at = tat - (burst - 1) * interval
if at < now then at = now end
if longest >= 0 and at - now > longest then
  return {0, at - now}
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {1, at - now, string.format('%d', tat)}
`)

// unreserveScript gives a slot back: ARGV[1] the TAT its reservation set,
// ARGV[2] the interval. Only the last reservation can go back.
var unreserveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], string.format('%d', tonumber(ARGV[1]) - tonumber(ARGV[2])), 'KEEPTTL')
  return 1
end
return 0
`)

// Wait implements slotguard.Waiter: it blocks until the fleet's pace lets
// one more attempt go, or ctx ends (then it returns ctx.Err()). It makes
// one Redis call, bounded by Config.Timeout; a failed call is an *Error at
// once, never a wait, and so is every call for Config.Backoff after. A slot
// past ctx's deadline is not reserved: Wait sleeps until the deadline and
// returns ctx.Err().
func (p *Pacer) Wait(ctx context.Context) error {
	r := float64(p.Limit())
	switch {
	case r >= float64(rate.Inf):
		return nil
	case !(r > 0):
		return &Error{Op: "pacer", Err: errZeroRate}
	}
	interval := max(int64(1e6/r), 1) // µs
	longest := int64(-1)
	if dl, ok := ctx.Deadline(); ok {
		longest = max(time.Until(dl).Microseconds(), 0)
	}
	cmd, err := p.l.run(ctx, "pacer", reserveScript, p.keys, interval, p.burst, longest)
	if err != nil {
		return err
	}
	res, err := cmd.Slice()
	if err != nil {
		return &Error{Op: "pacer", Err: err}
	}
	if len(res) < 2 {
		return &Error{Op: "pacer", Err: errors.New("unexpected answer")}
	}
	ok, _ := res[0].(int64)
	wait, _ := res[1].(int64)
	if wait <= 0 && ok == 1 {
		return nil
	}
	timer := time.NewTimer(time.Duration(wait) * time.Microsecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		if ok == 1 {
			return nil
		}
		<-ctx.Done() // the deadline is due now, or within the timer's slack
		return ctx.Err()
	case <-ctx.Done():
	}
	if ok == 1 && len(res) == 3 {
		// Give the slot back if nobody reserved after it.
		p.l.run(context.WithoutCancel(ctx), "pacer", unreserveScript, p.keys, res[2], interval)
	}
	return ctx.Err()
}
