package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// options are the command's flags, checked.
type options struct {
	w        workload
	policies []policy
	json     string // file, or "-" for stdout
	csv      string
	plot     string
	runs     int  // -runs: runs of each policy (runs.go)
	sweep    bool // -sweep: one policy, each setting of its main knob (sweep.go)
}

// errUsage marks a bad command line: exit code 2.
var errUsage = errors.New("usage")

// usageError is a bad command line, said in a message that names the flag.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

// parseFlags parses args. Errors wrap errUsage; the flag package has
// printed its own message for a malformed flag, and the usage. The checks
// run in a fixed order (arguments, workload, outputs to stdout, policies,
// files), so a command line with several mistakes is told the first.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("slotbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs) }
	o.w.addFlags(fs)
	names := o.addOutputFlags(fs)
	o.addRunsFlag(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage // the flag package printed the message and usage
	}
	if fs.NArg() > 0 {
		return o, usageError("unexpected argument %q (slotbench takes flags only)", fs.Arg(0))
	}
	if err := o.w.check(); err != nil {
		return o, err
	}
	if err := checkRuns(o.runs); err != nil {
		return o, err
	}
	if err := o.w.checkArrivals(fs); err != nil {
		return o, err
	}
	if o.json == "-" && o.csv == "-" {
		return o, usageError("-json - and -csv -: only one of them can go to stdout")
	}
	ps, err := parsePolicies(*names, o.w.Redis != "")
	if err != nil {
		return o, err
	}
	o.policies = ps
	if o.sweep {
		if err := o.checkSweep(*names); err != nil {
			return o, err
		}
	}
	return o, o.checkFiles()
}

// addFlags registers the workload's flags on fs, with the default workload's
// values as their defaults.
func (w *workload) addFlags(fs *flag.FlagSet) {
	d := defaultWorkload()
	fs.IntVar(&w.Slots, "slots", d.Slots, "worker slots (threads) of the account")
	fs.IntVar(&w.Workers, "workers", d.Workers, "concurrent workers, each with one task at a time")
	fs.DurationVar(&w.SolveMin, "solve-min", d.SolveMin, "shortest solve time of userrecaptcha (provider time); the other -mix methods take captchaaitest.DefaultMethods' times")
	fs.DurationVar(&w.SolveMax, "solve-max", d.SolveMax, "longest solve time of userrecaptcha (provider time)")
	fs.DurationVar(&w.Duration, "duration", d.Duration, "length of each policy's run (provider time)")
	fs.Float64Var(&w.Speed, "speed", d.Speed, "time compression: provider time runs this many times faster than real time (at least 1)")
	fs.Uint64Var(&w.Seed, "seed", d.Seed, "random seed: solve times, shared pool, jitter")
	fs.BoolVar(&w.Bans, "bans", d.Bans, "the provider's bans and limits (ERROR: 1001-1005, MAX_USER_TURN)")
	fs.IntVar(&w.Hour, "hour", d.Hour, "UTC hour the provider's day starts at, with other customers' load (captchaaitest.PublishedHours); -1: no shared pool")
	fs.DurationVar(&w.FirstPoll, "first-poll", d.FirstPoll, "from acceptance to a task's first res.php poll (provider time)")
	fs.DurationVar(&w.PollEvery, "poll", d.PollEvery, "between res.php polls (provider time)")
	fs.DurationVar(&w.Pause, "pause", d.Pause, "a worker's pause after it gave a task up (provider time)")
	fs.IntVar(&w.Collapse, "collapse", d.Collapse, "slots the account keeps while its capacity collapses, from 1/3 to 2/3 of -duration; then -slots again (-1: no collapse)")
	fs.IntVar(&w.Fleet, "fleet", d.Fleet, "processes sharing the account's API key, each with its own Transport; the workers are dealt out among them")
	fs.StringVar(&w.Redis, "redis", d.Redis, "`host:port` of a Redis for the policies that share their state through it (redisguard: slotguard-shared, slotguard-threads-shared), which run only with it")
	fs.StringVar(&w.Bypass, "bypass", d.Bypass, "`how` the workers of the thread-permit policies (slotguard-threads...) poll when their polls bypass the Transport: "+
		"taskdone (through a plain client, then Transport.TaskDone) or ceiling (never telling it: each permit goes back at its ceiling); \"\": through the Transport")
	fs.StringVar(&w.Mix, "mix", d.Mix, "the share of tasks per in.php `method`, e.g. post=0.5,userrecaptcha=0.5 (shares in (0,1], summing to 1); each worker draws its tasks' methods from the -seed")
	fs.StringVar(&w.TypeOutage, "type-outage", d.TypeOutage, "a captcha `type` of the -mix (a method, or a type as captchaaitest.PoolOf names it) whose provider workers are all out from 1/3 to 2/3 of -duration, then back")
	w.addArrivalFlags(fs)
}

// addOutputFlags registers the flags that choose the policies and where
// the results go. It returns the -policies list, parsed by parsePolicies.
func (o *options) addOutputFlags(fs *flag.FlagSet) (names *string) {
	names = fs.String("policies", "", "comma-separated policies to run, in this order (default: all; the -shared ones only with -redis)")
	fs.StringVar(&o.json, "json", "", "write the results as JSON to `FILE` (\"-\": stdout, instead of the table)")
	fs.StringVar(&o.csv, "csv", "", "write the results as CSV to `FILE` (\"-\": stdout, instead of the table)")
	fs.StringVar(&o.plot, "plot", "", "draw time to acceptance (CDF) and NO_SLOT answers per minute to `FILE`.png")
	fs.BoolVar(&o.sweep, "sweep", false, "run the one policy of -policies once per setting of its main knob ("+sweepable+"), print the frontier and the recommended slotguard.Config (-plot: the frontier)")
	return names
}

// printUsage is the -h text: what the command does, the policies, the flags.
func printUsage(fs *flag.FlagSet) {
	fmt.Fprintf(fs.Output(), "usage: slotbench [flags]\n\nRuns one workload against captchaaitest -runs times per retry policy (seeds -seed, -seed+1, ...) and prints a table of the medians.\n\nPolicies:\n")
	width := 0
	for _, p := range policies {
		width = max(width, len(p.name))
	}
	for _, p := range policies {
		fmt.Fprintf(fs.Output(), "  %-*s  %s\n", width, p.name, p.about)
	}
	fmt.Fprintf(fs.Output(), "\nFlags:\n")
	fs.PrintDefaults()
}

// check tells whether w is a workload the command can run, naming the
// flag of the first field that is not.
func (w workload) check() error {
	switch {
	case w.Slots < 1:
		return usageError("-slots %d: must be at least 1", w.Slots)
	case w.Workers < 1:
		return usageError("-workers %d: must be at least 1", w.Workers)
	case w.SolveMin < 0:
		return usageError("-solve-min %v: must not be negative", w.SolveMin)
	case w.SolveMax < w.SolveMin:
		return usageError("-solve-max %v: must be at least -solve-min (%v)", w.SolveMax, w.SolveMin)
	case w.Duration < time.Second:
		return usageError("-duration %v: must be at least 1s", w.Duration)
	case math.IsNaN(w.Speed) || math.IsInf(w.Speed, 0) || w.Speed < 1:
		return usageError("-speed %v: must be a number of at least 1 (1: real time)", w.Speed)
	case w.Hour < -1 || w.Hour > 23:
		return usageError("-hour %d: must be a UTC hour 0-23, or -1 for no shared pool", w.Hour)
	case w.FirstPoll < 0:
		return usageError("-first-poll %v: must not be negative", w.FirstPoll)
	case w.PollEvery <= 0:
		return usageError("-poll %v: must be positive", w.PollEvery)
	case w.Pause < 0:
		return usageError("-pause %v: must not be negative", w.Pause)
	case w.Collapse < -1 || w.Collapse >= w.Slots:
		return usageError("-collapse %d: must be from 0 to -slots - 1 (%d), or -1 for no collapse", w.Collapse, w.Slots-1)
	case w.Fleet < 1:
		return usageError("-fleet %d: must be at least 1 (1: one process)", w.Fleet)
	case w.Fleet > w.Workers:
		return usageError("-fleet %d: more processes than -workers (%d): each process needs a worker", w.Fleet, w.Workers)
	case w.Bypass != "" && w.Bypass != bypassTaskDone && w.Bypass != bypassCeiling:
		return usageError("-bypass %q: must be %s, %s or \"\" (polls through the Transport)", w.Bypass, bypassTaskDone, bypassCeiling)
	}
	return w.checkMix()
}

// parsePolicies looks up the comma-separated policy names of -policies, in
// their order; "" is every policy, those that share state through Redis
// only withRedis.
func parsePolicies(names string, withRedis bool) ([]policy, error) {
	if names == "" {
		names = strings.Join(policyNames(withRedis), ",")
	}
	var ps []policy
	seen := map[string]bool{}
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		p, ok := lookupPolicy(name)
		switch {
		case name == "":
			return nil, usageError("-policies %q: empty policy name", names)
		case !ok:
			return nil, usageError("-policies: unknown policy %q (known: %s)", name, strings.Join(policyNames(true), ", "))
		case seen[name]:
			return nil, usageError("-policies: %q twice", name)
		case p.redis && !withRedis:
			return nil, usageError("-policies: %s shares its state through Redis: give -redis host:port", name)
		}
		seen[name] = true
		ps = append(ps, p)
	}
	return ps, nil
}

// checkFiles tells whether the output files can be written, before the
// run rather than after a minute of it: their directories exist, and the
// plot goes to a file.
func (o options) checkFiles() error {
	for _, f := range []struct{ flag, path string }{{"-json", o.json}, {"-csv", o.csv}, {"-plot", o.plot}} {
		if f.path == "" || f.path == "-" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(f.path)); err != nil || !fi.IsDir() {
			return usageError("%s %s: directory %s does not exist", f.flag, f.path, filepath.Dir(f.path))
		}
	}
	if o.plot == "-" {
		return usageError("-plot -: needs a file name")
	}
	return nil
}
