package slotguard

import (
	"context"
	"errors"
	"log/slog"
)

// The fallback to local limits while a shared part (Config.Shared) fails,
// and its log: once when the first part goes down, once when the last one
// is back.

// The shared parts, as indexes into Transport.down.
const (
	sharedPacer = iota
	sharedBudget
	sharedBreaker
	sharedThreads
)

var sharedNames = [...]string{"pacer", "budget", "breaker", "threads"}

// errSharedDown is sharedResult's word for "the part failed: go on with the
// local limits". It never reaches the caller.
var errSharedDown = errors.New("slotguard: shared state unavailable")

// sharedResult sorts the error of a call to a shared part: nil when the
// part answered; the context's error when the request's context ended;
// errSharedDown otherwise, after noting the part down (logged once per
// outage), so that the attempt goes on with the local limits alone.
func (t *Transport) sharedResult(ctx context.Context, part int, err error) error {
	switch {
	case err == nil:
		t.sharedUp(ctx, part)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	t.sharedDown(ctx, part, err)
	return errSharedDown
}

// sharedDown notes a failing shared part. An outage is logged once, by the
// first part to fail.
func (t *Transport) sharedDown(ctx context.Context, part int, err error) {
	if !t.down[part].CompareAndSwap(false, true) {
		return
	}
	if t.downs.Add(1) == 1 && t.retry.logger != nil {
		t.retry.logger.LogAttrs(ctx, slog.LevelWarn, "slotguard: shared state unavailable, using local limits",
			slog.String("part", sharedNames[part]), slog.String("error", err.Error()))
	}
}

// sharedUp notes a shared part answering again. The outage's end is logged
// when the last part answers.
func (t *Transport) sharedUp(ctx context.Context, part int) {
	if !t.down[part].Load() || !t.down[part].CompareAndSwap(true, false) {
		return
	}
	if t.downs.Add(-1) == 0 && t.retry.logger != nil {
		t.retry.logger.LogAttrs(ctx, slog.LevelInfo, "slotguard: shared state back",
			slog.String("part", sharedNames[part]))
	}
}
