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
