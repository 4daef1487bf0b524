package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/slotguard/slotguard"
)

// policy is one retry policy under test. build is called once per run,
// with the run's env, and returns how a worker submits one task. To add a
// policy, add an entry to policies.
type policy struct {
	name  string
	about string // one line for -h and the JSON output
	// baseline marks what people write without slotguard: the verdict
	// says what the winner buys over the best of them.
	baseline bool
	// redis marks a policy that shares its state through the Redis of
	// -redis (redisguard): it runs only when -redis is given.
	redis bool
	// build is called once per process of the fleet (proc from 0; one
	// process without -fleet) and returns how that process's workers
	// submit a task.
	build func(e *env, proc int) (submitFunc, error)
}

// policies are the policies slotbench knows, in the order of the table.
// The first three are written as their authors wrote them: plain loops
// over an http.Client, not through slotguard.
var policies = []policy{
	{name: "naive", about: "resubmit at once on NO_SLOT, until accepted", baseline: true, build: buildNaive},
	{name: "guide", about: "CaptchaAI's NO_SLOT guide: wait 3 s, x1.5, cap 15 s, 5 tries", baseline: true, build: buildGuide},
	{name: "guide-batch", about: "CaptchaAI's throttled batch loop: one submitter, 2 tasks/s, 5 s after NO_SLOT", baseline: true, build: buildBatch},
	{name: "slotguard", about: "slotguard.New defaults", build: buildSlotguard(slotguard.Config{})},
	{name: "slotguard-jitter", about: "slotguard defaults with Backoff.Jitter 0.5", build: buildSlotguard(slotguard.Config{
		Retry: slotguard.Backoff{Jitter: 0.5},
	})},
	{name: "slotguard-adaptive", about: "slotguard defaults with Adaptive pacing", build: buildSlotguard(slotguard.Config{
		Adaptive: slotguard.Adaptive{Enabled: true},
	})},
	{name: "slotguard-threads", about: "slotguard defaults with thread permits (Threads, the plan learned); its workers poll through it (see -bypass)", build: buildSlotguard(slotguard.Config{
		Threads: slotguard.Threads{Enabled: true},
	})},
	{name: "slotguard-shared", about: "slotguard defaults, pacer, ban budget and breaker shared by the fleet in Redis (redisguard defaults)",
		redis: true, build: buildShared("slotguard-shared", slotguard.Config{})},
	{name: "slotguard-threads-shared", about: "slotguard-threads with Config.Shared from redisguard: pacer, ban budget, breaker and thread permits",
		redis: true, build: buildShared("slotguard-threads-shared", slotguard.Config{
			Threads: slotguard.Threads{Enabled: true},
		})},
}

// policyNames returns the names of the policies, those that need Redis
// only when withRedis.
func policyNames(withRedis bool) []string {
	var names []string
	for _, p := range policies {
		if withRedis || !p.redis {
			names = append(names, p.name)
		}
	}
	return names
}

func lookupPolicy(name string) (policy, bool) {
	for _, p := range policies {
		if p.name == name {
			return p, true
		}
	}
	return policy{}, false
}

// buildNaive is what people write first: on NO_SLOT, send it again, at once.
// Any other answer gives the task up. Against the in-memory provider it
// submits as fast as the provider answers, which is the point (and why the
// policies run one after another: it takes both cores while it spins). It
// stops spinning when the provider bans it: a banned submit is given up and
// followed by the worker's pause.
func buildNaive(e *env, _ int) (submitFunc, error) {
	return func(ctx context.Context) outcome {
		for {
			a, err := submitOnce(ctx, e.plain)
			switch {
			case err != nil:
				return lost(errReason(err))
			case a.Accepted:
				return accepted(a.ID)
			case a.Code != slotguard.CodeNoSlot:
				return lost(a.Code)
			}
		}
	}, nil
}

// buildGuide is the retry loop of CaptchaAI's guide "ERROR_NO_SLOT_AVAILABLE:
// Queue Management Solutions"
// (https://blog.captchaai.com/error-no-slot-available-queue-management),
// "Basic Retry Logic", submit_with_slot_retry: max_retries=5, delay 3 s,
// after each NO_SLOT sleep(delay) then delay = min(delay*1.5, 15); any other
// error raises; after the fifth NO_SLOT (and its sleep) "Max retries
// exceeded". No pacing and no breaker. Sleeps are divided by the speed
// factor.
func buildGuide(e *env, _ int) (submitFunc, error) {
	return func(ctx context.Context) outcome {
		delay := 3 * time.Second
		for range 5 {
			a, err := submitOnce(ctx, e.plain)
			switch {
			case err != nil:
				return lost(errReason(err))
			case a.Accepted:
				return accepted(a.ID)
			case a.Code != slotguard.CodeNoSlot:
				return lost(a.Code) // "Non-retriable error"
			}
			if e.clock.sleep(ctx, delay) != nil {
				return lost("cancelled")
			}
			delay = min(time.Duration(float64(delay)*1.5), 15*time.Second)
		}
		return lost(slotguard.CodeNoSlot) // "Max retries exceeded"
	}, nil
}

// buildBatch is the throttled batch loop of the same guide ("Throttled Batch
// Submission", submit_batch_throttled, rate_per_second=2): one loop submits
// the tasks one after another; on NO_SLOT it sleeps 5 s and resubmits the
// same task, without a bound; any other answer raises (here: the task is
// given up); after each task it sleeps 1/rate. The 5 s is also the delay
// for ERROR_NO_SLOT_AVAILABLE in CaptchaAI's error-handling decision tree
// (https://blog.captchaai.com/captchaai-api-error-handling-decision-tree)
// and on 2captcha's limits page (https://2captcha.com/api-docs/limits).
//
// Here the workers hand their tasks to that one loop in arrival order: the
// loop is a lane that one task holds at a time (a channel used as a
// semaphore: blocked senders are served first come, first served). Time to
// acceptance includes the wait for the lane, as it does for a task queued
// behind a batch, and ends at the answer: the loop's sleep after a task
// holds the lane, not the task, whose worker goes on to poll at once.
func buildBatch(e *env, _ int) (submitFunc, error) {
	const rate = 2 // tasks per second
	lane := make(chan struct{}, 1)
	return func(ctx context.Context) outcome {
		select {
		case lane <- struct{}{}:
		case <-ctx.Done():
			return lost("cancelled")
		}
		// time.sleep(interval) after each task, holding the lane.
		defer func() {
			go func() {
				e.clock.sleep(ctx, time.Second/rate)
				<-lane
			}()
		}()
		for {
			a, err := submitOnce(ctx, e.plain)
			switch {
			case err != nil:
				return lost(errReason(err))
			case a.Accepted:
				return accepted(a.ID)
			case a.Code != slotguard.CodeNoSlot:
				return lost(a.Code)
			}
			if e.clock.sleep(ctx, 5*time.Second) != nil {
				return lost("cancelled")
			}
		}
	}, nil
}

// buildSlotguard returns a policy that submits through slotguard.New(cfg)
// over the provider's transport, with cfg.TimeScale set to the run's speed
// and the jitter drawn from the run's seed. One Transport per process
// serves all its workers, as one http.Client would in a program.
func buildSlotguard(cfg slotguard.Config) func(e *env, proc int) (submitFunc, error) {
	return func(e *env, proc int) (submitFunc, error) {
		return slotguardSubmit(e, proc, cfg)
	}
}

// slotguardSubmit builds process proc's Transport from cfg and returns how
// its workers submit through it.
func slotguardSubmit(e *env, proc int, cfg slotguard.Config) (submitFunc, error) {
	cfg.TimeScale = e.w.Speed
	if cfg.Retry.Jitter > 0 && cfg.Retry.Rand == nil {
		cfg.Retry.Rand = newLockedRand(e.w.Seed + uint64(proc)).Float64
	}
	t, err := slotguard.New(e.wire, cfg)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: t}
	return func(ctx context.Context) outcome {
		a, err := submitOnce(ctx, c)
		switch {
		case err != nil:
			return lost(errReason(err))
		case a.Accepted && cfg.Threads.Enabled:
			return threaded(e.w.Bypass, t, c, a.ID)
		case a.Accepted:
			return accepted(a.ID)
		}
		return lost(a.Code) // attempts exhausted (the last NO_SLOT), a ban, ...
	}, nil
}

// threaded is how the workers poll task id, accepted through t with thread
// permits (c is over t): through t, which sees the task end and gives its
// permit back; with -bypass, around it, through the plain client, then
// telling t by TaskDone, or not at all (the permit goes back at the
// ceiling).
func threaded(bypass string, t *slotguard.Transport, c *http.Client, id string) outcome {
	switch bypass {
	case bypassTaskDone:
		return outcome{id: id, ended: func() { t.TaskDone(id) }}
	case bypassCeiling:
		return accepted(id)
	}
	return outcome{id: id, polls: c}
}

// lockedRand is a seeded generator safe for concurrent use, for
// Backoff.Rand.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))}
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}
