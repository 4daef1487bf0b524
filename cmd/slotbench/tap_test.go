package main

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
)

// TestTapCountsWhatTheProviderSaw runs the default workload in virtual
// time and holds the tap's NO_SLOT count, which the table's peak and the
// plot read, to the provider's own count of the NO_SLOT answers it gave.
func TestTapCountsWhatTheProviderSaw(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := defaultWorkload()
		w.Speed = 1
		results, err := runAll(context.Background(), w, mustPolicies(t, "naive", "slotguard"), nil)
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
		for _, r := range results {
			provider := 0
			for _, n := range r.NoSlotPerMin {
				provider += n
			}
			t.Logf("%-10s tap %d NO_SLOT, provider %d, peak per rolling minute %d", r.Policy, r.NoSlot, provider, r.PeakNoSlot)
			if provider == 0 {
				t.Errorf("%s: the provider gave no NO_SLOT answer; the workload should meet busy slots", r.Policy)
			}
			if r.NoSlot != provider {
				t.Errorf("%s: the tap counted %d NO_SLOT answers, the provider gave %d", r.Policy, r.NoSlot, provider)
			}
			if most := slices.Max(r.NoSlotPerMin); r.PeakNoSlot < most {
				t.Errorf("%s: peak NO_SLOT per rolling minute %d, under the provider's %d in one minute", r.Policy, r.PeakNoSlot, most)
			}
		}
	})
}
