// Command slotbench answers "which retry policy should I use, and what does
// it buy me?" with numbers. It runs one workload against one account of the
// built-in fake provider (captchaaitest, in memory: nothing leaves the
// machine) once per policy, with the same random seed, and prints a table:
// goodput, slot utilisation, share of tasks accepted, time to acceptance,
// attempts per accepted task, NO_SLOT answers per minute against the
// provider's ban line, bans and tasks lost.
//
//	go run ./cmd/slotbench                 # the default workload, every policy
//	go run ./cmd/slotbench -hour 13        # at the provider's 12-18 UTC peak
//	go run ./cmd/slotbench -policies guide,slotguard -plot out.png -json out.json
//	go run ./cmd/slotbench -collapse 5                     # 20 slots fall to 5 for the middle third, then recover
//	go run ./cmd/slotbench -fleet 8 -redis 127.0.0.1:6379   # 8 processes on one key, local vs shared limits
//
// The default workload: an account with 20 worker slots, reCAPTCHA-like solve
// times (10-30 s), 50 workers that each submit a task, poll res.php 15 s
// after acceptance and then every 5 s until solved, then take the next
// task (about twice what the account can take), for 10 minutes of
// provider time, the provider's bans on.
//
// Time is compressed by -speed (default 150): the provider, the slotguard
// Transports (Config.TimeScale) and the hand-written loops' sleeps all run
// that many times faster, so each policy's 10 minutes take 4 seconds and the
// default run of six policies about 25 seconds. Policies run one after
// another, so that a spinning loop cannot steal the CPU from another
// policy's timers. Every number in the table is provider time; two runs
// with the same seed agree within about 1% on goodput and utilisation.
//
// What the columns mean:
//
//	accepted/min      tasks the provider accepted (and billed) per minute: goodput
//	slot util         slot time that held a task / slot time the account offered, from the provider
//	                  (slots x duration; less during a -collapse): 100% is the physical limit
//	accepted/started  tasks accepted / tasks whose submission ended within the run
//	                  (accepted or given up; tasks still being submitted at the end count in neither)
//	p50, p95, p99     time to acceptance: from the moment a worker starts submitting a task
//	                  (its first attempt, or its wait for the pacer or the batch loop) to the acceptance
//	attempts/task     in.php requests on the wire / tasks accepted
//	peak NO_SLOT/min  most NO_SLOT answers within any rolling minute (the provider bans at 120)
//	bans              blocks the provider started, every code (ERROR: 1001, 1003, MAX_USER_TURN, ...)
//	lost              tasks given up: attempts exhausted, circuit open, banned
//
// With -fleet N the workers are dealt out among N processes that share the
// account's one API key, each with its own Transport (or loop): N
// per-process pacers and ban budgets add up to N times the lines, and the
// key gets banned. The slotguard-shared policy, which runs only with
// -redis host:port, gives every process Config.Shared from a
// redisguard.Fleet on that Redis (a key prefix of the run's own): one pace,
// one budget and one breaker for the fleet.
//
// A worker that gives a task up pauses -pause (5 s) before its next task.
// The winner is the policy with the highest goodput among those that
// started no ban; goodputs within 2% tie (the run-to-run noise is about
// 1%), and the tie goes to fewer attempts per accepted task.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	redis.SetLogger(quietRedis{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags, checked.
type options struct {
	w        workload
	policies []policy
	json     string // file, or "-" for stdout
	csv      string
	plot     string
}

// errUsage marks a bad command line: exit code 2.
var errUsage = errors.New("usage")

// parseFlags parses args. Errors wrap errUsage; the flag package has
// printed its own message for a malformed flag, and the usage.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	d := defaultWorkload()
	fs := flag.NewFlagSet("slotbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.w.Slots, "slots", d.Slots, "worker slots (threads) of the account")
	fs.IntVar(&o.w.Workers, "workers", d.Workers, "concurrent workers, each with one task at a time")
	fs.DurationVar(&o.w.SolveMin, "solve-min", d.SolveMin, "shortest solve time (provider time)")
	fs.DurationVar(&o.w.SolveMax, "solve-max", d.SolveMax, "longest solve time (provider time)")
	fs.DurationVar(&o.w.Duration, "duration", d.Duration, "length of each policy's run (provider time)")
	fs.Float64Var(&o.w.Speed, "speed", d.Speed, "time compression: provider time runs this many times faster than real time (at least 1)")
	fs.Uint64Var(&o.w.Seed, "seed", d.Seed, "random seed: solve times, shared pool, jitter")
	fs.BoolVar(&o.w.Bans, "bans", d.Bans, "the provider's bans and limits (ERROR: 1001-1005, MAX_USER_TURN)")
	fs.IntVar(&o.w.Hour, "hour", d.Hour, "UTC hour the provider's day starts at, with other customers' load (captchaaitest.PublishedHours); -1: no shared pool")
	fs.DurationVar(&o.w.FirstPoll, "first-poll", d.FirstPoll, "from acceptance to a task's first res.php poll (provider time)")
	fs.DurationVar(&o.w.PollEvery, "poll", d.PollEvery, "between res.php polls (provider time)")
	fs.DurationVar(&o.w.Pause, "pause", d.Pause, "a worker's pause after it gave a task up (provider time)")
	fs.IntVar(&o.w.Collapse, "collapse", d.Collapse, "slots the account keeps while its capacity collapses, from 1/3 to 2/3 of -duration; then -slots again (-1: no collapse)")
	fs.IntVar(&o.w.Fleet, "fleet", d.Fleet, "processes sharing the account's API key, each with its own Transport; the workers are dealt out among them")
	fs.StringVar(&o.w.Redis, "redis", "", "`host:port` of a Redis for the slotguard-shared policy (redisguard), which runs only with it")
	names := fs.String("policies", "", "comma-separated policies to run, in this order (default: all; slotguard-shared only with -redis)")
	fs.StringVar(&o.json, "json", "", "write the results as JSON to `FILE` (\"-\": stdout, instead of the table)")
	fs.StringVar(&o.csv, "csv", "", "write the results as CSV to `FILE` (\"-\": stdout, instead of the table)")
	fs.StringVar(&o.plot, "plot", "", "draw time to acceptance (CDF) and NO_SLOT answers per minute to `FILE`.png")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: slotbench [flags]\n\nRuns one workload against captchaaitest once per retry policy and prints a table.\n\nPolicies:\n")
		for _, p := range policies {
			fmt.Fprintf(fs.Output(), "  %-20s %s\n", p.name, p.about)
		}
		fmt.Fprintf(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage // the flag package printed the message and usage
	}
	bad := func(format string, a ...any) (options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
	}
	w := &o.w
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q (slotbench takes flags only)", fs.Arg(0))
	case w.Slots < 1:
		return bad("-slots %d: must be at least 1", w.Slots)
	case w.Workers < 1:
		return bad("-workers %d: must be at least 1", w.Workers)
	case w.SolveMin < 0:
		return bad("-solve-min %v: must not be negative", w.SolveMin)
	case w.SolveMax < w.SolveMin:
		return bad("-solve-max %v: must be at least -solve-min (%v)", w.SolveMax, w.SolveMin)
	case w.Duration < time.Second:
		return bad("-duration %v: must be at least 1s", w.Duration)
	case math.IsNaN(w.Speed) || math.IsInf(w.Speed, 0) || w.Speed < 1:
		return bad("-speed %v: must be a number of at least 1 (1: real time)", w.Speed)
	case w.Hour < -1 || w.Hour > 23:
		return bad("-hour %d: must be a UTC hour 0-23, or -1 for no shared pool", w.Hour)
	case w.FirstPoll < 0:
		return bad("-first-poll %v: must not be negative", w.FirstPoll)
	case w.PollEvery <= 0:
		return bad("-poll %v: must be positive", w.PollEvery)
	case w.Pause < 0:
		return bad("-pause %v: must not be negative", w.Pause)
	case w.Collapse < -1 || w.Collapse >= w.Slots:
		return bad("-collapse %d: must be from 0 to -slots - 1 (%d), or -1 for no collapse", w.Collapse, w.Slots-1)
	case w.Fleet < 1:
		return bad("-fleet %d: must be at least 1 (1: one process)", w.Fleet)
	case w.Fleet > w.Workers:
		return bad("-fleet %d: more processes than -workers (%d): each process needs a worker", w.Fleet, w.Workers)
	case o.json == "-" && o.csv == "-":
		return bad("-json - and -csv -: only one of them can go to stdout")
	}
	if *names == "" {
		*names = strings.Join(policyNames(w.Redis != ""), ",")
	}
	seen := map[string]bool{}
	for name := range strings.SplitSeq(*names, ",") {
		name = strings.TrimSpace(name)
		p, ok := lookupPolicy(name)
		switch {
		case name == "":
			return bad("-policies %q: empty policy name", *names)
		case !ok:
			return bad("-policies: unknown policy %q (known: %s)", name, strings.Join(policyNames(true), ", "))
		case seen[name]:
			return bad("-policies: %q twice", name)
		case p.redis && w.Redis == "":
			return bad("-policies: %s shares its state through Redis: give -redis host:port", name)
		}
		seen[name] = true
		o.policies = append(o.policies, p)
	}
	for _, f := range []struct{ flag, path string }{{"-json", o.json}, {"-csv", o.csv}, {"-plot", o.plot}} {
		if f.path == "" || f.path == "-" {
			continue
		}
		// Checked before the run, not after a minute of it.
		if fi, err := os.Stat(filepath.Dir(f.path)); err != nil || !fi.IsDir() {
			return bad("%s %s: directory %s does not exist", f.flag, f.path, filepath.Dir(f.path))
		}
	}
	if o.plot == "-" {
		return bad("-plot -: needs a file name")
	}
	return o, nil
}

// run is the command: it returns the exit code (0 ok, 1 failure, 2 bad
// command line).
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		if msg := strings.TrimPrefix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintf(stderr, "slotbench%s\nRun 'slotbench -h' for the flags.\n", msg)
		}
		return 2
	}
	if o.w.Redis != "" {
		if err := checkRedis(context.Background(), o.w.Redis); err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			return 1
		}
	}
	o.w.warn = stderr
	results, err := runAll(context.Background(), o.w, o.policies, progressTo(stderr, o.w.Duration))
	if err != nil {
		fmt.Fprintf(stderr, "slotbench: %v\n", err)
		return 1
	}
	if o.json != "-" && o.csv != "-" {
		if err := writeTable(stdout, o.w, results); err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			return 1
		}
	}
	outs := []struct {
		path  string
		write func(io.Writer) error
	}{
		{o.json, func(f io.Writer) error { return writeJSON(f, o.w, results) }},
		{o.csv, func(f io.Writer) error { return writeCSV(f, results) }},
		{o.plot, func(f io.Writer) error { return writePlot(f, o.w, results) }},
	}
	code := 0
	for _, out := range outs {
		switch out.path {
		case "":
			continue
		case "-":
			err = out.write(stdout)
		default:
			err = writeFile(out.path, out.write)
		}
		if err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			code = 1
		}
	}
	return code
}

// runAll runs the policies one after another.
func runAll(ctx context.Context, w workload, ps []policy, progress func(i, n int, name string, at time.Duration)) ([]result, error) {
	results := make([]result, 0, len(ps))
	for i, p := range ps {
		var pf func(time.Duration)
		if progress != nil {
			pf = func(at time.Duration) { progress(i, len(ps), p.name, at) }
			pf(0)
		}
		r, err := runPolicy(ctx, w, p, pf)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if progress != nil {
		progress(len(ps), len(ps), "", 0)
	}
	return results, nil
}

// progressTo returns a progress reporter that rewrites one line on stderr,
// or nil when stderr is not a terminal.
func progressTo(stderr io.Writer, total time.Duration) func(i, n int, name string, at time.Duration) {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(i, n int, name string, at time.Duration) {
		if name == "" {
			fmt.Fprint(f, "\r\033[K") // done: clear the line
			return
		}
		fmt.Fprintf(f, "\r\033[Kslotbench: policy %d/%d %s: %v of %v provider time", i+1, n, name,
			min(at, total).Truncate(time.Second), total)
	}
}

// writeFile writes path through a temporary file in the same directory,
// renamed into place only when complete: never a half-written file.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
