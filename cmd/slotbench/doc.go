// Command slotbench answers "which retry policy should I use, and what does
// it buy me?" with numbers. It runs one workload against one account of the
// built-in fake provider (captchaaitest, in memory: nothing leaves the
// machine) three times per policy, on the same three random seeds for
// each, and prints a table of the medians with their spread:
// goodput, slot utilisation, share of tasks accepted, time to acceptance,
// attempts per accepted task, NO_SLOT answers per minute against the
// provider's ban line, bans and tasks lost. Run it before you pick a retry
// policy or change slotguard's Config, and to see what a change to
// slotguard itself buys.
//
//	go run ./cmd/slotbench                 # the default workload, every policy, 3 runs each (~25 s)
//	go run ./cmd/slotbench -runs 9         # 9 runs each (seeds 1-9): narrower spreads, ~70 s
//	go run ./cmd/slotbench -hour 13        # at the provider's 12-18 UTC peak
//	go run ./cmd/slotbench -policies guide,slotguard -plot out.png -json out.json
//	go run ./cmd/slotbench -collapse 5     # 20 slots fall to 5 for the middle third, then recover
//	go run ./cmd/slotbench -fleet 8 -redis 127.0.0.1:6379   # 8 processes on one key, local vs shared limits
//	go run ./cmd/slotbench -first-poll 10s -poll 1s          # the poll cadence for thread permits
//	go run ./cmd/slotbench -arrivals 2 -deadline 60s         # tasks arrive from a queue, at twice the capacity
//	go run ./cmd/slotbench -sweep -policies slotguard-threads -plot sweep.png   # one setting's frontier, and a Config
//
// This doc says what the command does and how to read what it prints.
// BENCHMARKS.md at the repository root has what each of the scenarios
// below printed, with what to read in it; go run ./internal/benchdoc
// regenerates those tables (-only slotbench for these alone).
//
// # Policies
//
// Three loops as people write them without slotguard, over a plain
// http.Client: naive (resubmit at once on NO_SLOT, until accepted), guide
// (the retry loop of CaptchaAI's NO_SLOT guide: wait 3 s, x1.5, cap 15 s,
// 5 tries) and guide-batch (the same guide's throttled batch loop: one
// submitter, 2 tasks a second, 5 s after each NO_SLOT). Then slotguard
// Transports: slotguard (the defaults of slotguard.New), slotguard-jitter
// (Backoff.Jitter 0.5), slotguard-adaptive (Adaptive pacing),
// slotguard-threads (thread permits, Config.Threads, without the plan's
// thread count: learned; its workers poll through the Transport, so that
// it sees each task end) and, only with -redis, slotguard-shared (pacer,
// ban budget and breaker shared by the fleet in Redis) and
// slotguard-threads-shared (the same, with thread permits). slotbench -h
// lists them with one line each.
//
// # The workload
//
// The default workload: an account with 20 worker slots, reCAPTCHA-like
// solve times (10-30 s), 50 workers that each submit a task, poll res.php
// 15 s after acceptance and then every 5 s until solved, then take the next
// task (about twice what the account can take), for 10 minutes of provider
// time, the provider's bans on. A worker that gives a task up pauses -pause
// (5 s) before its next task.
//
// Time is compressed by -speed (default 150): the provider, the slotguard
// Transports (Config.TimeScale) and the hand-written loops' sleeps all run
// that many times faster, so each run's 10 minutes take 4 seconds, and the
// default 3 runs of seven policies, four runs at a time, about 25 seconds
// (see Repeated runs). Every number in the table is provider time.
//
// # Flags
//
// The workload's flags: -slots and -workers (the account's worker slots,
// or threads, and the workers that feed it), -solve-min and -solve-max
// (the range solve times are drawn from), -duration (each policy's run),
// -speed, -seed (solve times, the shared pool, jitter; the first run's),
// -runs (see Repeated runs), -bans=false (the
// provider's bans and limits off), -hour (the UTC hour the provider's day
// starts at, with other customers' load in its shared pool; -1, the
// default: no shared pool), -first-poll and -poll (the workers' res.php
// schedule), -pause, -collapse (see Capacity that collapses, below),
// -arrivals and -deadline (see Open-loop demand), -sweep (see Sweeping a
// setting), -fleet and -redis (see A fleet on one key), -bypass (see
// Thread permits), -mix and -type-outage (see Several captcha types).
// Durations are provider time.
//
// Which policies run, and where the results go: -policies a,b,c runs those,
// in that order; -json FILE and -csv FILE write the results for machines
// ("-": to stdout, instead of the table); -plot FILE.png draws the time to
// acceptance of each policy as a CDF beside its NO_SLOT answers per rolling
// minute against the ban line. slotbench -h lists every flag with its
// default. The exit code is 0, 1 when a run or an output failed, 2 for a
// bad command line.
//
// # Output
//
// What the columns mean:
//
//	accepted/min      tasks the provider accepted (and billed) per minute: goodput
//	slot util         slot time that held a task / slot time the account offered, from the provider
//	                  (slots x duration; less during a -collapse): 100% is the physical limit
//	accepted/started  tasks accepted / tasks whose submission ended within the run
//	                  (accepted or given up; tasks still being submitted at the end count in neither)
//	p50, p95, p99     time to acceptance: from the worker's call to submit a task to the accepted answer,
//	                  every wait on the way included (pacer, thread permit, in-flight bound, the batch
//	                  loop's lane), measured alike for every policy
//	attempts/task     in.php requests on the wire / tasks accepted
//	peak NO_SLOT/min  most NO_SLOT answers within any rolling minute (the provider bans at 120)
//	bans              blocks the provider started, every code (ERROR: 1001, 1003, MAX_USER_TURN, ...)
//	lost              tasks given up: attempts exhausted, circuit open, banned
//	outage kept       with -type-outage only: accepted/min while that type's workers are out, as a
//	                  share of accepted/min in the rest of the run (the provider's count)
//
// The last line names the winner: the policy with the highest goodput
// among those that started no ban in any run; where goodputs tie, the one
// with the fewest attempts per accepted task. Two figures tie when their
// medians differ by no more than the sum of their spreads (the intervals
// median ± spread overlap), or by no more than 2% (the noise of one run,
// which a single run's spread of 0 cannot show). When the best policies
// tie on both, the line says "tied:" and names them all, in table order,
// instead of a winner. It says what the first of them buys over the best
// ban-free policy written without slotguard.
//
// # Repeated runs
//
// One run is one seed's draw of solve times, jitter and the order in
// which workers meet free slots, and a policy's figures move from seed to
// seed by as much as two good policies differ. So -runs N (default 3) runs
// every policy N times, on seeds -seed, -seed+1, ... (the same seeds for
// every policy), and every figure in the table is the median of the N
// runs, followed by its spread: "97.0% ±0.4". The spread is half the range
// from the lowest run to the highest, (max - min) / 2; with 3 runs, the
// median ± spread covers every run when the median sits mid-range. Counts
// (bans, tasks lost, the NO_SLOT peak) are medians too, rounded; the bans
// column also lists the codes any run started, and a policy that started a
// ban in any run is out of the verdict and named as banned.
//
// In JSON each row keeps its fields, now the medians (a single run's
// values with -runs 1), and adds "runs" (N) and "range": for every number
// of the row, under its name, its "median", "min", "max" and "spread"
// (e.g. "range": {"utilization": {"median": 0.969, "min": 0.968, "max":
// 0.972, "spread": 0.002}, ...}). bans_by, lost_by and no_slot_per_minute
// are medians key by key. CSV has the medians only. -plot draws the run on
// the first seed.
//
// Runs go four at a time, in table order (so a round can hold two
// policies): each has its own in-memory provider, and at x150 a run takes
// about 0.25 s of CPU in its 4 s. Four at once moved no figure past the
// spreads of one at a time at the same speed (BENCHMARKS.md, Runs at once,
// has the measurement); seven at once could put the two spinning loops in
// one round with guide-batch and cost it a run. With four at a time the 21
// runs of the default take 6 rounds of 4 s: 3 runs is as many as fit the
// main command's 25 s. Fewer policies (-policies) or more runs cost a
// round of 4 s per four runs.
//
// The spread is the seeds' spread, not the machine's: runs that go at
// once share the machine's load, and late timers move every run of a
// round alike, so a narrow spread does not vouch for a quiet machine. The
// line before the verdict says how late the run's timers woke against
// provider time (the workers' and the loops' sleeps; timer_lateness in the
// JSON): at x150 a wake 1 ms late in real time is 150 ms late in provider
// time. When the sleeps woke late by more than 4% of -poll on average, the
// figures may have moved with the machine's load, and a warning (also on
// stderr with -json - or -csv -, and as warning in the JSON) names a lower
// -speed. When figures look off, run again, with -speed 50 or on a quiet
// machine.
//
// # Capacity that collapses
//
// -collapse N takes the account down to N slots for the middle third of
// the run, then back to -slots: capacity that collapses and recovers.
// Slot utilisation is then of the slot time the account offered, less
// during the collapse. Read the tasks lost and the NO_SLOT peak beside it:
// a policy can keep the offered slots busy by giving tasks up.
//
// # Open-loop demand
//
// The workers of the default workload are closed loops: each waits for its
// task before it takes the next, so demand falls as the account slows. A
// queue feeds it whatever the solver does. -arrivals R makes tasks arrive
// at R a second of provider time (a Poisson process drawn from -seed: the
// same arrivals for every policy and every run with that seed) instead of
// -workers, each task in its own goroutine; -deadline D counts a task as
// missed when it is not accepted within D of its arrival, and abandons it
// then (its context is cancelled). A task accepted all the same (its
// answer came back as the deadline passed) is missed, and polled: the
// provider solves and bills it. Arrivals that find 1000 tasks already
// waiting are dropped, and missed. The table then gives, per policy, the
// tasks arrived, accepted in time and missed, the missed share (of the
// tasks whose fate the run saw), the time to acceptance from arrival (p50,
// p99, of the tasks accepted in time) and "billed, missed", tasks the
// provider billed that were not accepted in time; -json has them as
// arrived, accepted_in_time, missed, late, abandoned, dropped,
// missed_share, accept_p50_s, accept_p99_s and billed_missed.
//
// The default account takes about a task a second (20 slots, 20 s mean
// solve): -arrivals 0.5, 1 and 2 are half, once and twice its capacity.
// With more demand than capacity some tasks must be missed whatever the
// policy; read which: a policy that serves in arrival order serves first
// the task closest to its deadline.
//
// # Sweeping a setting
//
// -sweep runs the one policy of -policies once per setting of its main
// knob (-runs times each; the frontier and the rule read the medians, but
// a setting that started a ban in any run counts as banned), on the
// workload of the other flags (-arrivals included): Config.Rate for
// slotguard (0.75 to 4 attempts a second; the default is 2), Adaptive's
// Decrease and Increase for slotguard-adaptive, and Threads.Overbook for
// slotguard-threads (measured, the default, then 1 to 6). It prints a row
// per setting, marks with * those on the Pareto frontier (no other
// setting is as good on utilisation, attempts per task, p99, tasks lost,
// bans and, under -arrivals, missed share, and better on one), and ends
// with the setting it recommends and its slotguard.Config literal, to
// paste. The rule: of the frontier's settings that started no ban and
// spend at most 1.5 attempts per task, those within a point of the best
// utilisation (under -arrivals: of the smallest missed share), and of them
// the fewest attempts per task; if none is that frugal, the ban-free
// setting with the fewest attempts per task. -plot FILE.png draws
// utilisation against attempts per task, the frontier joined; -json -
// writes the rows, the rule and the Config. Neighbouring settings are
// often within noise of each other: read the frontier, not the third
// decimal, and rerun with -seed before trusting a close call.
//
// # The AIMD sweep
//
// Adaptive pacing would become slotguard's default if some setting of its
// AIMD factors kept at least 95% of the slots busy at no more than 1.5
// attempts per task on the default workload. None does: from gentle to
// aggressive they only move along the same curve, trading one against the
// other. TestDocClaimAdaptiveSweep runs the default workload in virtual
// time, 3 seeds per setting, and logs the means (BENCHMARKS.md has its
// lines); it fails when a setting passes both bars: that is an
// improvement, and the time to revisit the default and this section.
//
// # Thread permits
//
// slotguard-threads is slotguard's defaults with Config.Threads on and no
// Plan: the account's thread count is learned from its answers. A submit
// waits in the Transport for a thread permit, in arrival order, and keeps
// it until a poll through the same Transport sees its task end; its time
// to acceptance counts that wait. So the median task waits longer than
// with the defaults and none waits long: a line instead of a lottery.
//
// The poll cadence matters: a permit comes back when a poll sees its task
// end, so the sooner the polls see it, the less the overbook has to cover.
// With thread permits, poll first at 10 s and then every second
// (-first-poll 10s -poll 1s), well under the provider's poll line (ERROR:
// 1005 past 20 polls per task plus 1200 an hour). The lateness bar follows
// -poll (40 ms of provider time at -poll 1s), which a 2-core machine's
// timers pass at x150: add -speed 40.
//
// -bypass says how the workers of the thread-permit policies learn that a
// task ended when their polls bypass the Transport (a pingback, another
// client): taskdone polls through a plain client and calls
// Transport.TaskDone(id) when a poll sees the task end, which does as well
// as polls through the Transport; ceiling never tells the Transport, so
// each permit comes back only at its ceiling (5 minutes for a reCAPTCHA),
// and most slots stay idle. The ceiling is there so that a lost poll never
// keeps a thread for good, not as the way permits come back: with polls
// that bypass the Transport, call TaskDone.
//
// Under the shared pool's peak (-hour 12, 30% of the submits that find a
// free thread refused all the same), thread permits keep far fewer slots
// busy than the defaults: each such refusal, arriving while the
// Transport's own tasks are fewer than the capacity it learned, lowers
// that capacity to them, and it grows back one step at a time; with
// Threads.Plan 20 it falls all the same. That, and a fleet's (see A fleet
// on one key), is why thread permits stay opt-in: use them when the polls
// pass through the Transport (or TaskDone tells it), outside the
// provider's peak hours, with polls at 10 s then every second, and when
// fewer attempts, no task given up and a short tail matter more than the
// last points of utilisation. TestDocClaimThreads runs these scenarios in
// virtual time (3 seeds each) and fails when a claim of this section stops
// holding; BENCHMARKS.md has its lines.
//
// # A fleet on one key
//
// Pacers, budgets and breakers that live in one process add up when many
// processes share one API key. With -fleet N the workers are dealt out
// among N processes on the account's one key, each with its own Transport
// (or loop): N per-process pacers and ban budgets add up to N times the
// lines, and the key gets banned. The slotguard-shared policy, which runs
// only with -redis host:port, gives every process its own Redis client and
// Config.Shared from a redisguard.Fleet with the default redisguard.Config
// on that Redis (under a key prefix of the run's own): one pace, one budget
// and one breaker for the fleet; slotguard-threads-shared adds thread
// permits, with the fleet's from the same redisguard.Fleet. Across
// processes those permits are not handed out in arrival order (a permit
// freed in one process goes to that process's waiters first; the others
// ask Redis now and then), so expect a long tail. With a Redis of your own:
//
//	apt-get install -y redis-server && redis-server --port 6379 --save "" --daemonize yes
//	go run ./cmd/slotbench -fleet 8 -redis 127.0.0.1:6379 -policies guide-batch,slotguard,slotguard-adaptive,slotguard-threads,slotguard-shared,slotguard-threads-shared
//
// A process whose Redis calls fail falls back to its local limits, as a
// Transport does in production, and says so on stderr.
//
// # Several captcha types
//
// NO_SLOT is per captcha type: the provider has workers per type, and one
// type can run short while the others have room. -mix post=0.5,userrecaptcha=0.5
// sends half the tasks as image uploads and half as reCAPTCHA through the
// same key (each worker draws its tasks' methods from -seed; -solve-min and
// -solve-max are reCAPTCHA's, the other methods solve in
// captchaaitest.DefaultMethods' times). -type-outage userrecaptcha (a
// method, or a type as captchaaitest.PoolOf names it) empties that type's
// provider workers from 1/3 to 2/3 of the run, then brings them back. With
// more than one method the table has a row per method under each policy,
// and the JSON a by_method object per policy. With -type-outage the table
// has an outage kept column, and each JSON row and by_method entry
// outage_during_per_min, outage_outside_per_min and outage_kept: in one
// run, what the outage costs the other types (their rows) and the policy
// (its row); with -arrivals also outage_arrived_per_min, the tasks that
// arrived while the workers were out, the demand the rate during it
// answers. Read them with the workers in mind: they are a closed loop,
// so a policy that gives up the short type's tasks at once (an open
// breaker) sends more of the others while it lasts, and keeps more than
// 100% of them; one that holds its workers on the short type's retries
// sends fewer. BENCHMARKS.md has the
// figures of go run ./cmd/slotbench -mix post=0.5,userrecaptcha=0.5
// -type-outage userrecaptcha beside the same run without the outage.
package main
