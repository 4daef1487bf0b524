package main

import (
	"context"
	"testing"
	"testing/synctest"
)

// threadsSeeds is how many seeds the thread-permit tests run each
// scenario with.
const threadsSeeds = 3

// seedRuns is one policy's results on one workload, a seed each.
type seedRuns []result

// runSeeds runs policy name on w for seeds 1 to threadsSeeds, each in a
// synctest bubble at speed 1.
func runSeeds(t *testing.T, w workload, name string) seedRuns {
	t.Helper()
	var runs seedRuns
	for seed := range uint64(threadsSeeds) {
		synctest.Test(t, func(t *testing.T) {
			w := w
			w.Speed = 1
			w.Seed = seed + 1
			results, err := runAll(context.Background(), w, mustPolicies(t, name), nil)
			if err != nil {
				t.Fatalf("runAll: %v", err)
			}
			r := results[0]
			t.Logf("%s, seed %d: util %.1f%% attempts/task %.2f p50 %.1fs p99 %.1fs peak NO_SLOT/min %d bans %v lost %d",
				r.Policy, w.Seed, 100*r.Utilization, r.AttemptsPerAcc, r.P50, r.P99, r.PeakNoSlot, r.BansBy, r.Lost)
			runs = append(runs, r)
		})
	}
	return runs
}

// mean is the mean over the seeds of f.
func (runs seedRuns) mean(f func(result) float64) float64 {
	var sum float64
	for _, r := range runs {
		sum += f(r)
	}
	return sum / float64(len(runs))
}

func utilization(r result) float64     { return r.Utilization }
func attemptsPerTask(r result) float64 { return r.AttemptsPerAcc }

// The thread-permit tests hold utilisation and attempts per task to their
// bars on the mean of the seeds, and everything else on each seed. One
// run of the default workload moves by about 0.02 attempts per task and
// half a point of utilisation from the next with the same seed (the
// bubble wakes goroutines due at one instant in no fixed order), and the
// permits' figures sit 0.02 under the 1.35 bar: a bar on each seed would
// fail one run in ten by noise alone.

// TestThreadsDefaultWorkload holds slotguard-threads (thread permits, the
// plan learned, polls through the Transport) to issue 13's bar on the
// default workload: on each of 3 seeds no ban, no task given up and a p99
// time to acceptance of at most 45 s; on their mean, at least 95% of the
// slots busy at no more than 1.5 attempts per task, or at least 93% at no
// more than 1.35.
func TestThreadsDefaultWorkload(t *testing.T) {
	runs := runSeeds(t, defaultWorkload(), "slotguard-threads")
	for i, r := range runs {
		if r.Bans != 0 {
			t.Errorf("seed %d: bans %v, want none", i+1, r.BansBy)
		}
		if r.Lost != 0 {
			t.Errorf("seed %d: tasks given up %d (%v), want none", i+1, r.Lost, r.LostBy)
		}
		if r.P99 > 45 {
			t.Errorf("seed %d: p99 time to acceptance %.1fs, want at most 45s", i+1, r.P99)
		}
	}
	util, attempts := runs.mean(utilization), runs.mean(attemptsPerTask)
	t.Logf("mean of %d seeds: util %.1f%% attempts/task %.3f", len(runs), 100*util, attempts)
	if !(util >= 0.95 && attempts <= 1.5 || util >= 0.93 && attempts <= 1.35) {
		t.Errorf("mean utilisation %.3f at %.3f attempts/task, want >= 0.95 at <= 1.5, or >= 0.93 at <= 1.35", util, attempts)
	}
}

// TestThreadsCollapse holds slotguard-threads to issue 13's bar through
// -collapse 5 (20 slots fall to 5 for the middle third, then recover): on
// each of 3 seeds no ban and at most 5 tasks given up; on their mean, at
// most 1.5 attempts per task and at least 90% of the offered slot time
// busy.
func TestThreadsCollapse(t *testing.T) {
	w := defaultWorkload()
	w.Collapse = 5
	runs := runSeeds(t, w, "slotguard-threads")
	for i, r := range runs {
		if r.Bans != 0 {
			t.Errorf("seed %d: bans %v, want none", i+1, r.BansBy)
		}
		if r.Lost > 5 {
			t.Errorf("seed %d: tasks given up %d (%v), want at most 5", i+1, r.Lost, r.LostBy)
		}
	}
	util, attempts := runs.mean(utilization), runs.mean(attemptsPerTask)
	t.Logf("mean of %d seeds: util %.1f%% attempts/task %.3f", len(runs), 100*util, attempts)
	if attempts > 1.5 {
		t.Errorf("mean attempts/task %.3f, want at most 1.5", attempts)
	}
	if util < 0.9 {
		t.Errorf("mean utilisation %.3f of the offered slot time, want at least 0.9", util)
	}
}
