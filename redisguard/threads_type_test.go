package redisguard

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/slotguard/slotguard/redisguard/redistest"
)

// TestThreadsPerType: the fleet learns a capacity per task type: one
// type's NO_SLOT lowers its own only, its acceptances raise its own, and a
// type without room waits while another type with room is admitted, from
// any process.
func TestThreadsPerType(t *testing.T) {
	ths := threadsOf(t, redistest.Addr(t), 2, Config{})
	ctx := context.Background()
	accept := func(th *Threads, typ, id string) {
		t.Helper()
		token, err := th.Acquire(ctxFor(t, 5*time.Second), typ, 0, 1, long)
		must(t, "Acquire "+typ, err)
		must(t, "Accepted "+id, th.Accepted(ctx, token, id, long, 0, quiet))
	}
	accept(ths[0], "recaptcha", "r1")
	accept(ths[0], "recaptcha", "r2") // 2 tasks above 1: capacity 2
	for i := range 3 {
		accept(ths[1], "image", fmt.Sprint("i", i)) // image: capacity 3
	}
	if _, err := ths[1].Done(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if probe, err := ths[0].NoSlot(ctx, "recaptcha", 0); err != nil || probe {
		t.Fatalf("recaptcha NO_SLOT at 1 task of 2: probe %v, err %v; want a lesson", probe, err)
	}
	if probe, err := ths[1].NoSlot(ctx, "image", 0); err != nil || !probe {
		t.Fatalf("image NO_SLOT at 3 tasks of 3: probe %v, err %v; want a probe", probe, err)
	}
	if u := usage(t, ths[0]); u.Capacity != 1+3 || u.Tasks != 4 {
		t.Errorf("Usage = %+v, want capacity 1 (recaptcha) + 3 (image) and 4 tasks", u)
	}
	// recaptcha: 1 task, capacity 1, overbook 1: one more, then none.
	if _, err := ths[1].Acquire(ctxFor(t, time.Second), "recaptcha", 0, 1, long); err != nil {
		t.Fatal(err)
	}
	_, err := ths[0].Acquire(ctxFor(t, 300*time.Millisecond), "recaptcha", 0, 1, long)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("recaptcha at its capacity plus overbook: err %v, want to wait", err)
	}
	// image: 3 tasks, capacity 3, overbook 1: admitted at once, untouched
	// by recaptcha's shortage.
	start := time.Now()
	if _, err := ths[0].Acquire(ctxFor(t, time.Second), "image", 0, 1, long); err != nil || time.Since(start) > 200*time.Millisecond {
		t.Errorf("image with room beside a full recaptcha: err %v after %v, want a permit at once", err, time.Since(start))
	}
}

// TestThreadsPlanTotal: with a plan, the types share it: a type with room
// of its own waits while the key's permits fill the plan plus overbook, and
// a NO_SLOT then is a probe that lowers no type.
func TestThreadsPlanTotal(t *testing.T) {
	th := threadsOf(t, redistest.Addr(t), 1, Config{})[0]
	ctx := context.Background()
	for i := range 2 {
		token, err := th.Acquire(ctxFor(t, time.Second), "image", 2, 0, long)
		must(t, "Acquire image", err)
		must(t, "Accepted", th.Accepted(ctx, token, fmt.Sprint("i", i), long, 2, quiet))
	}
	_, err := th.Acquire(ctxFor(t, 300*time.Millisecond), "recaptcha", 2, 0, long)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("recaptcha with the plan's 2 out: err %v, want to wait", err)
	}
	if probe, err := th.NoSlot(ctx, "recaptcha", 2); err != nil || !probe {
		t.Errorf("recaptcha NO_SLOT with the plan's tasks out: probe %v, err %v; want a probe", probe, err)
	}
	if _, err := th.Done(ctx, "i0"); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Acquire(ctxFor(t, time.Second), "recaptcha", 2, 0, long); err != nil {
		t.Errorf("recaptcha after a task ended: %v, want a permit (its capacity is still the plan)", err)
	}
}

// TestThreadsTypesBounded: random types keep at most 32 apart in Redis;
// the rest share the untyped entry, and every permit still comes back.
func TestThreadsTypesBounded(t *testing.T) {
	f := fleetOf(t, redistest.Addr(t), testKey(t), 1, Config{})[0]
	th, ctx := f.Threads, context.Background()
	for i := range 100 {
		typ := fmt.Sprintf("m%x", i*7919)
		token, err := th.Acquire(ctxFor(t, time.Second), typ, 0, 100, long)
		must(t, "Acquire", err)
		id := fmt.Sprint("t", i)
		must(t, "Accepted", th.Accepted(ctx, token, id, long, 0, quiet))
		if found, err := th.Done(ctx, id); err != nil || !found {
			t.Fatalf("Done(%s) = %v, %v; want the lease", id, found, err)
		}
	}
	c := f.link.c
	if n := c.SCard(ctx, th.keys[3]).Val(); n != maxTypes {
		t.Errorf("%d types kept, want %d", n, maxTypes)
	}
	if n := c.HLen(ctx, th.keys[2]).Val(); n > 3*(maxTypes+1) {
		t.Errorf("the learned hash has %d fields, want at most %d", n, 3*(maxTypes+1))
	}
	keys, _ := c.Keys(ctx, th.types+"*").Result()
	if len(keys) != 0 {
		t.Errorf("type sets left with every permit back: %v", keys)
	}
	th.mu.Lock()
	turns := len(th.turns)
	th.mu.Unlock()
	if turns != maxTypes+1 {
		t.Errorf("%d turns in the process, want %d and the untyped one", turns, maxTypes)
	}
	if u := usage(t, th); u.Tasks != 0 || u.Submits != 0 {
		t.Errorf("Usage = %+v, want nothing out", u)
	}
}
