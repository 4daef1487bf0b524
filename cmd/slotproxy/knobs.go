package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slotguard/slotguard"
)

// knobFlags registers the slotguard.Config knobs beyond the pace, the
// backoff and the breaker (issue 15: every knob as a flag), and how the
// proxy refuses what it never sent.
func (o *options) knobFlags(fs *flag.FlagSet) {
	c := &o.cfg
	fs.DurationVar(&o.maxWait, "max-wait", 25*time.Second, "longest a submit waits in the proxy before it is sent, in real time whatever -time-scale (thread permit, ban budget, pacer, backoff), "+
		"under the clients' own timeout; past it the proxy answers NO_SLOT itself, nothing sent. An attempt already sent is always waited for (0: -request-timeout alone)")
	fs.StringVar(&o.refusal, "refusal", refuseDialect, "how a submit never sent is refused: dialect (as the provider answers NO_SLOT, or the ban that holds the breaker open, in the request's format, HTTP 200) "+
		"or http (503 with Retry-After)")
	fs.Var(&countFlag{&c.Budget.NoSlotPerMinute}, "budget-noslot-per-minute", "ban budget: `count` of NO_SLOT answers in any minute, attempts in flight counted (0: 110, under ERROR: 1001 at 120; unlimited: off)")
	fs.Var(&countFlag{&c.Budget.SubmitsPer3s}, "budget-submits-per-3s", "ban budget: `count` of submit attempts in any 3 s (0: 50, under MAX_USER_TURN at 60; unlimited: off)")
	fs.BoolVar(&c.Adaptive.Enabled, "adaptive", false, "adaptive pacing: slow down on NO_SLOT and MAX_USER_TURN, speed up on acceptance (needs a finite -rate)")
	fs.Float64Var(&c.Adaptive.Floor, "adaptive-floor", 0, "adaptive pacing: lowest rate, attempts per second (0: a tenth of -rate)")
	fs.Float64Var(&c.Adaptive.Decrease, "adaptive-decrease", 0, "adaptive pacing: factor on NO_SLOT, above 0 and below 1 (0: 0.75)")
	fs.Float64Var(&c.Adaptive.Increase, "adaptive-increase", 0, "adaptive pacing: rate added per accepted submit (0: an eighth of -rate)")
	fs.Var(&scheduleFlag{&c.Schedule}, "schedule", "submit `rates` per UTC hour: published:HIGH,MODERATE,PEAK (CaptchaAI's hours: high 00-06, peak 12-18, moderate else) "+
		"or 24 comma-separated rates, hour 0 first; a 0 rate is -rate (empty: -rate all day)")
	fs.DurationVar(&c.Polls.First, "poll-first", 0, "with -pace-polls: delay from an accepted submit to its first poll (0: 5s)")
	fs.DurationVar(&c.Polls.FirstSlow, "poll-first-slow", 0, "with -pace-polls: the same for reCAPTCHA-like tasks (0: 15s)")
	fs.DurationVar(&c.Polls.Every, "poll-every", 0, "with -pace-polls: least time between two polls of one task (0: 5s)")
	fs.BoolVar(&c.Threads.Enabled, "threads", false, "thread permits: a submit holds one from before its first attempt until its task is seen to end (a res.php answer through the proxy)")
	fs.IntVar(&c.Threads.Plan, "threads-plan", 0, "with -threads: the account's thread count (0: learned from NO_SLOT answers)")
	fs.IntVar(&c.Threads.Overbook, "threads-overbook", 0, "with -threads: permits beyond the plan, for the lag between a solve's end and the poll that sees it (0: measured)")
	fs.DurationVar(&c.Threads.Ceiling, "threads-ceiling", 0, "with -threads: longest a task holds its permit unseen to end (0: 2m, 5m for reCAPTCHA-like tasks)")
	fs.StringVar(&o.redisAddr, "redis", "", "share pace, ban budget, breaker and thread permits of -redis-key with the slotproxies on other hosts through the Redis server at this `address` (host:port)")
	fs.StringVar(&o.redisKey, "redis-key", "", "with -redis: the one API `key` whose state is shared; requests with another key are refused (403 wrong-key)")
}

// checkKnobs validates the flags of knobFlags, naming the flag; slotguard.New
// checks the rest of the Config.
func (o *options) checkKnobs(fs *flag.FlagSet) error {
	switch {
	case o.maxWait < 0:
		return errors.New("slotproxy: -max-wait must not be negative (0: -request-timeout alone)")
	case o.refusal != refuseDialect && o.refusal != refuseHTTP:
		return fmt.Errorf("slotproxy: -refusal %q: want dialect or http", o.refusal)
	case (o.redisAddr == "") != (o.redisKey == ""):
		return errors.New("slotproxy: -redis and -redis-key go together")
	}
	// The core's errors name Config fields; these name the flags.
	for _, f := range []struct {
		name string
		bad  bool
		rule string
	}{
		{"adaptive-floor", bad(o.cfg.Adaptive.Floor), "a rate of 0 or more"},
		{"adaptive-decrease", math.IsNaN(o.cfg.Adaptive.Decrease) || o.cfg.Adaptive.Decrease < 0 || o.cfg.Adaptive.Decrease >= 1, "0 (0.75), or above 0 and below 1"},
		{"adaptive-increase", bad(o.cfg.Adaptive.Increase), "a rate of 0 or more"},
		{"poll-first", o.cfg.Polls.First < 0, "not negative"},
		{"poll-first-slow", o.cfg.Polls.FirstSlow < 0, "not negative"},
		{"poll-every", o.cfg.Polls.Every < 0, "not negative"},
		{"threads-plan", o.cfg.Threads.Plan < 0, "not negative (0: learned)"},
		{"threads-overbook", o.cfg.Threads.Overbook < 0, "not negative (0: measured)"},
		{"threads-ceiling", o.cfg.Threads.Ceiling < 0, "not negative"},
	} {
		if f.bad {
			return fmt.Errorf("slotproxy: -%s %s: want %s", f.name, fs.Lookup(f.name).Value, f.rule)
		}
	}
	if o.cfg.Adaptive.Enabled && math.IsInf(o.cfg.Rate, 1) {
		return errors.New("slotproxy: -adaptive needs a finite -rate to adapt")
	}
	return nil
}

// bad reports whether v is not a finite rate of 0 or more.
func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }

// countFlag is a count that "unlimited" switches off (slotguard.Unlimited).
type countFlag struct{ n *int }

func (f *countFlag) String() string {
	if f.n == nil {
		return "0"
	}
	if *f.n == slotguard.Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(*f.n)
}

func (f *countFlag) Set(s string) error {
	if s == "unlimited" {
		*f.n = slotguard.Unlimited
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("want a count of 0 or more, or unlimited")
	}
	*f.n = n
	return nil
}

// scheduleFlag is a slotguard.Schedule: published:HIGH,MODERATE,PEAK or
// 24 rates.
type scheduleFlag struct{ s *slotguard.Schedule }

func (f *scheduleFlag) String() string {
	if f.s == nil || *f.s == (slotguard.Schedule{}) {
		return ""
	}
	parts := make([]string, len(f.s))
	for h, r := range f.s {
		parts[h] = strconv.FormatFloat(r, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (f *scheduleFlag) Set(v string) error {
	spec, published := strings.CutPrefix(v, "published:")
	parts := strings.Split(spec, ",")
	want := len(slotguard.Schedule{})
	if published {
		want = 3
	}
	if len(parts) != want {
		return fmt.Errorf("want %d comma-separated rates, got %d", want, len(parts))
	}
	rates := make([]float64, len(parts))
	for i, p := range parts {
		r, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(r) || r < 0 {
			return fmt.Errorf("rate %q: want a rate of 0 or more (+Inf: no pacing)", p)
		}
		rates[i] = r
	}
	if published {
		*f.s = slotguard.PublishedSchedule(rates[0], rates[1], rates[2])
	} else {
		copy(f.s[:], rates)
	}
	return nil
}
