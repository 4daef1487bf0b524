package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard"
)

// A fleet (-fleet N) is N processes that share the account's one API key,
// each with its own Transport (or its own loop, for the baselines), the
// workers dealt out among them in turn. Without Redis each process keeps
// its own pace and its own ban budget: N processes at 2 attempts a second
// send 2N, and N budgets of 110 NO_SLOT answers a minute are N times the
// provider's ban line. The slotguard-shared policy gives every process
// Config.Shared from a redisguard.Fleet on the Redis of -redis: one pacer,
// one budget and one breaker for the whole fleet; slotguard-threads-shared
// adds the fleet's thread permits.

// loadTimeout bounds the connection to Redis and the loading of
// redisguard's scripts, for each process at the start of a run.
const loadTimeout = 5 * time.Second

// redisTimeout bounds each Redis call of a run (redisguard.Config.Timeout).
const redisTimeout = time.Second

// buildShared returns the policy name that submits through slotguard.New(cfg) with
// cfg.Shared from a redisguard.Fleet of the process's own (its own Redis
// client, as a separate process would have) on the Redis at -redis. Every
// process of one run shares the run's key prefix, so runs never see each
// other's state. A process whose Redis calls fail falls back to its local
// limits, as the Transport does in production, and says so on stderr once.
func buildShared(name string, cfg slotguard.Config) func(e *env, proc int) (submitFunc, error) {
	return func(e *env, proc int) (submitFunc, error) {
		if e.w.Redis == "" {
			return nil, errors.New("needs -redis ADDR")
		}
		c := redis.NewClient(&redis.Options{Addr: e.w.Redis, ContextTimeoutEnabled: true})
		e.onClose(func() { c.Close() })
		// Timeout: a generous second instead of redisguard's 50 ms. The
		// simulation itself loads the machine (all workers, at x150), and
		// a Redis call that waits out the scheduler would otherwise send
		// the process to its local limits: the run would measure the
		// machine's load, not the sharing. A call still never hangs.
		f, err := redisguard.New(c, key, redisguard.Config{Prefix: e.prefix, TimeScale: e.w.Speed, Timeout: redisTimeout})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		defer cancel()
		if err := f.Load(ctx); err != nil {
			return nil, fmt.Errorf("-redis %s: %w", e.w.Redis, err)
		}
		cfg.Shared = f.Shared()
		if cfg.Logger == nil && e.w.warn != nil {
			cfg.Logger = slog.New(slog.NewTextHandler(e.w.warn, &slog.HandlerOptions{Level: slog.LevelWarn})).
				With("policy", name, "process", proc)
		}
		return slotguardSubmit(e, proc, cfg)
	}
}

// checkRedis tells whether the Redis at addr answers, before a run that
// needs it spends minutes on the other policies first.
func checkRedis(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("-redis %s: %w", addr, err)
	}
	return nil
}

// quietRedis drops go-redis's own log lines (a refused dial, printed by
// its connection pool): slotbench reports a Redis that does not answer
// itself, and the Transports log their fallback to local limits.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// newPrefix returns a Redis key prefix of a run's own.
func newPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "slotbench:" + hex.EncodeToString(b[:])
}
