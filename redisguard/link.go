package redisguard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// link is a Fleet's way to Redis, shared by its pacer, budget, breaker and
// threads.
// It bounds each call by Config.Timeout and, after a call fails, skips Redis
// for Config.Backoff: each call then returns an *Error at once (matching
// ErrBackoff), and slotguard's Transport uses its local limits for that
// attempt. When the back-off is over, one call tries Redis again while the
// others keep returning at once; its success ends the outage, its failure
// starts another back-off. So an outage costs one Timeout per Backoff, not
// one per call (issue 11: three per submit, 152 ms), and a Redis that flaps
// faster than Backoff looks like one outage, not one per flap.
type link struct {
	c       redis.UniversalClient
	timeout time.Duration
	backoff time.Duration

	mu       sync.Mutex
	until    time.Time // no call before this; zero: Redis answered last
	skip     error     // the cause of the *Errors of skipped calls
	trying   bool      // a call is finding out whether Redis is back
	failures uint64    // failed calls so far
}

// ErrBackoff is the cause of an *Error returned without asking Redis,
// because a call failed less than Config.Backoff ago. The *Error also wraps
// that failure.
var ErrBackoff = errors.New("skipped: a Redis call failed less than Config.Backoff ago")

// run runs s with keys and args, as op, unless a back-off is in force. Its
// error is ctx.Err() when the request's context ended (which says nothing
// about Redis), an *Error otherwise.
func (l *link) run(ctx context.Context, op string, s *redis.Script, keys []string, args ...any) (*redis.Cmd, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := l.enter(op)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	cmd := s.Run(cctx, l.c, keys, args...)
	cancel()
	err = callError(ctx, op, cmd.Err())
	l.leave(ctx, c, err)
	return cmd, err
}

// ints runs s as run does, and reads its answer: at least n integers, or
// an *Error.
func (l *link) ints(ctx context.Context, op string, s *redis.Script, keys []string, n int, args ...any) ([]int64, error) {
	cmd, err := l.run(ctx, op, s, keys, args...)
	if err != nil {
		return nil, err
	}
	res, err := cmd.Int64Slice()
	if err == nil && len(res) < n {
		err = fmt.Errorf("unexpected answer %v", res)
	}
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	return res, nil
}

// call is what enter knew of a call it let through.
type call struct {
	trial    bool   // the call ends a back-off: it tries Redis for everyone
	failures uint64 // failed calls before it
}

// enter lets a call through, or refuses it during a back-off.
func (l *link) enter(op string) (call, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := call{failures: l.failures}
	switch {
	case l.until.IsZero():
	case l.trying || time.Now().Before(l.until):
		return c, &Error{Op: op, Err: l.skip}
	default:
		l.trying, c.trial = true, true
	}
	return c, nil
}

// force lets a call through even during a back-off, for Load.
func (l *link) force() call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return call{failures: l.failures}
}

// leave records how a call went.
func (l *link) leave(ctx context.Context, c call, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.trial {
		l.trying = false
	}
	var e *Error
	switch {
	case err == nil:
		// A call that began before a failure tells nothing of Redis
		// since: only one begun after ends the back-off.
		if c.failures == l.failures {
			l.until, l.skip = time.Time{}, nil
		}
	case ctx.Err() != nil || !errors.As(err, &e):
		// The request's own end: Redis may be fine.
	default:
		l.until = time.Now().Add(l.backoff)
		l.skip = fmt.Errorf("%w: %w", ErrBackoff, e.Err)
		l.failures++
	}
}

// callError is the error of a Redis call (nil for none): ctx.Err()
// unchanged when the request's own context ended (so errors.Is(err,
// context.Canceled) holds and the Transport does not take it for an
// outage), otherwise an *Error wrapping the cause.
func callError(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		// The call's own bound, not the request's: keep it from
		// matching context.DeadlineExceeded.
		err = ErrTimeout
	}
	return &Error{Op: op, Err: err}
}
