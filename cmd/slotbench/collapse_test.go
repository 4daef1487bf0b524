package main

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestCollapse runs the default workload with the account's 20 slots
// falling to 5 for the middle third of the run (-collapse 5), in virtual
// time, and checks what BENCHMARKS.md ("Capacity that collapses") says
// of it: neither slotguard's defaults nor adaptive pacing start a ban
// through the collapse and its recovery, both keep most of the offered
// slot time busy, and adaptive pacing spends fewer attempts per task and
// gives up fewer tasks.
func TestCollapse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := defaultWorkload()
		w.Speed = 1
		w.Collapse = 5
		results, err := runAll(context.Background(), w, mustPolicies(t, "slotguard", "slotguard-adaptive"), nil)
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
		for _, r := range results {
			t.Logf("%-18s %5.1f/min util %5.1f%% attempts/task %.2f peak NO_SLOT/min %3d bans %v lost %d",
				r.Policy, r.AcceptedPerMin, 100*r.Utilization, r.AttemptsPerAcc, r.PeakNoSlot, r.BansBy, r.Lost)
			if r.Bans != 0 {
				t.Errorf("%s: bans %v, want none", r.Policy, r.BansBy)
			}
			if r.PeakNoSlot >= banLine {
				t.Errorf("%s: peak NO_SLOT/min %d, want under %d", r.Policy, r.PeakNoSlot, banLine)
			}
			if r.Utilization < 0.9 {
				t.Errorf("%s: utilisation %.3f of the offered slot time, want at least 0.9", r.Policy, r.Utilization)
			}
		}
		sg, ad := results[0], results[1]
		// The offered slot time is 20 slots for 2/3 of the run and 5 for
		// 1/3: 15/20 of the usual. Goodput falls with it.
		if full := 59.0; sg.AcceptedPerMin > 0.85*full {
			t.Errorf("slotguard: %.1f accepted/min, want the collapse to show (under %.1f)", sg.AcceptedPerMin, 0.85*full)
		}
		if ad.AttemptsPerAcc >= 0.75*sg.AttemptsPerAcc {
			t.Errorf("attempts/task: adaptive %.2f, defaults %.2f; want adaptive under 3/4 of the defaults",
				ad.AttemptsPerAcc, sg.AttemptsPerAcc)
		}
		if ad.Lost >= sg.Lost {
			t.Errorf("tasks lost: adaptive %d, defaults %d; want fewer with adaptive", ad.Lost, sg.Lost)
		}
	})
}
