package main

import (
	"cmp"
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/slotguard/slotguard"
)

// The tests in this file hold a claim of the command doc (doc.go) to the
// code. Unlike the other tests they fail when slotguard gets better, not
// only when it gets worse: their failure says which section of the doc
// has gone stale, and by how much.

// The bar in the doc's AIMD sweep: a setting that keeps at least
// sweepUtilBar of the slots busy at no more than sweepAttemptsBar
// attempts per task would make Adaptive pacing worth being the default.
const (
	sweepUtilBar     = 0.95
	sweepAttemptsBar = 1.5
)

// TestDocClaimAdaptiveSweep checks the doc's section "The AIMD sweep": on
// the default workload (3 seeds, virtual time), AIMD settings from gentle
// to aggressive trade utilisation against attempts per task, and none
// passes both bars. It logs the lines the doc quotes. A ban on the way is
// a regression; a setting past both bars is an improvement, and the
// failure says to update the doc.
func TestDocClaimAdaptiveSweep(t *testing.T) {
	settings := []slotguard.Adaptive{
		{Enabled: true}, // the Adaptive defaults: x0.75, +Rate/8 (0.25/s)
		{Enabled: true, Decrease: 0.85, Increase: 0.1},
		{Enabled: true, Decrease: 0.9, Increase: 0.1},
		{Enabled: true, Decrease: 0.95, Increase: 0.05},
	}
	const seeds = 3
	for _, a := range settings {
		name := fmt.Sprintf("decrease %v increase %v/s", cmp.Or(a.Decrease, 0.75), cmp.Or(a.Increase, 0.25))
		var util, attempts float64
		for seed := range uint64(seeds) {
			synctest.Test(t, func(t *testing.T) {
				w := defaultWorkload()
				w.Speed = 1
				w.Seed = seed + 1
				p := policy{name: name, build: buildSlotguard(slotguard.Config{Adaptive: a})}
				results, err := runAll(context.Background(), w, []policy{p}, nil)
				if err != nil {
					t.Fatalf("runAll: %v", err)
				}
				r := results[0]
				if r.Bans != 0 {
					t.Errorf("%s, seed %d: bans %v, want none", name, w.Seed, r.BansBy)
				}
				util += r.Utilization / seeds
				attempts += r.AttemptsPerAcc / seeds
			})
		}
		t.Logf("%-28s util %.3f attempts/task %.2f", name, util, attempts)
		if util >= sweepUtilBar && attempts <= sweepAttemptsBar {
			t.Errorf("%s: util %.3f at %.2f attempts/task, past the bar (util >= %v, attempts/task <= %v) "+
				"that the command doc says no setting reaches. Adaptive pacing improved: this is not a regression. "+
				"Update \"The AIMD sweep\" in doc.go with this test's -v output, "+
				"and consider making Adaptive the default.", name, util, attempts, sweepUtilBar, sweepAttemptsBar)
		}
	}
}
