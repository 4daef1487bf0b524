package captchaaitest

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestCapacityDrop drops an account from 4 slots to 1 at 10 s and brings it
// back to 4 at 20 s. Tasks 1-4 solve in 15 s, so three of them outlive the
// drop: they keep running, and submits get NO_SLOT until the held slots fall
// under the new count.
// It is long because it walks one timeline, step by step, in order.
func TestCapacityDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 4, Capacity: []Step{
				{At: 10 * time.Second, Slots: 1},
				{At: 20 * time.Second, Slots: 4},
			}}},
			Methods: map[string]Method{"userrecaptcha": fixed(15 * time.Second)},
		})
		defer p.Close()
		start := time.Now()
		at := func(d time.Duration) {
			t.Helper()
			time.Sleep(d - time.Since(start))
			if got := time.Since(start); got != d {
				t.Fatalf("time.Since(start) = %v, want %v", got, d)
			}
		}
		steps := []struct {
			at    time.Duration
			want  []string // submit answers in order
			slots int      // Stats.Slots after them
		}{
			{0, []string{"OK|1", "OK|2", "OK|3"}, 4},
			{10*time.Second - time.Nanosecond, []string{"OK|4", "ERROR_NO_SLOT_AVAILABLE"}, 4},
			{10 * time.Second, []string{"ERROR_NO_SLOT_AVAILABLE"}, 1},                 // 4 held, 1 slot
			{15*time.Second - time.Nanosecond, []string{"ERROR_NO_SLOT_AVAILABLE"}, 1}, // 4 held
			{15 * time.Second, []string{"ERROR_NO_SLOT_AVAILABLE"}, 1},                 // task 4 still holds the one slot
			{20*time.Second - time.Nanosecond, []string{"ERROR_NO_SLOT_AVAILABLE"}, 1},
			{20 * time.Second, []string{"OK|5", "OK|6", "OK|7", "ERROR_NO_SLOT_AVAILABLE"}, 4},
		}
		for _, s := range steps {
			at(s.at)
			if s.at == 10*time.Second {
				// Accepted before the drop: still running, not killed.
				if got, want := poll(t, p, "1"), "CAPCHA_NOT_READY"; got != want {
					t.Errorf("poll(1) at 10s = %q, want %q", got, want)
				}
			}
			if s.at == 15*time.Second {
				if got, want := poll(t, p, "1"), "OK|token1"; got != want {
					t.Errorf("poll(1) at 15s = %q, want %q", got, want)
				}
			}
			for i, want := range s.want {
				if got := submit(t, p); got != want {
					t.Errorf("submit #%d at %v = %q, want %q", i+1, s.at, got, want)
				}
			}
			if got := p.Stats(DefaultKey).Slots; got != s.slots {
				t.Errorf("Stats.Slots at %v = %d, want %d", s.at, got, s.slots)
			}
		}
		if got, want := poll(t, p, "4"), "CAPCHA_NOT_READY"; got != want {
			t.Errorf("poll(4) at 20s = %q, want %q", got, want)
		}

		at(30 * time.Second)
		st := p.Stats(DefaultKey)
		// Offered: 4 x 10s + 1 x 10s + 4 x 10s.
		// Used: 3 held in [0, 10s-1ns), 4 in [10s-1ns, 10s), 1 of 4 held in
		// [10s, 15s), 1 in [15s, 20s), 4 in [20s, 25s-1ns), 3 in [25s-1ns, 30s).
		// Busy: tasks 1-4 15s each, tasks 5-7 10s each so far.
		if st.OfferedSlotTime != 90*time.Second || st.UsedSlotTime != 75*time.Second || st.BusySlotTime != 90*time.Second {
			t.Errorf("Stats at 30s = offered %v, used %v, busy %v; want 1m30s, 1m15s, 1m30s",
				st.OfferedSlotTime, st.UsedSlotTime, st.BusySlotTime)
		}
		if got, want := st.Utilization(), 5.0/6; got != want {
			t.Errorf("Utilization() at 30s = %v, want %v", got, want)
		}
		if st.Accepted != 7 || st.Rejected[codeNoSlot] != 6 {
			t.Errorf("Stats = accepted %d, NO_SLOT %d; want 7, 6", st.Accepted, st.Rejected[codeNoSlot])
		}
	})
}

// TestCapacityZero steps an account to no slots at all: 0 in a Step means
// none, not DefaultSlots.
func TestCapacityZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 2, Capacity: []Step{{At: 5 * time.Second, Slots: 0}}}},
			Methods:  map[string]Method{"userrecaptcha": fixed(2 * time.Second)},
		})
		defer p.Close()
		if got, want := submit(t, p), "OK|1"; got != want { // holds [0, 2s)
			t.Errorf("submit at 0 = %q, want %q", got, want)
		}
		time.Sleep(4 * time.Second)
		if got, want := submit(t, p), "OK|2"; got != want { // holds [4s, 6s)
			t.Errorf("submit at 4s = %q, want %q", got, want)
		}
		time.Sleep(time.Second)
		if got, want := submit(t, p), "ERROR_NO_SLOT_AVAILABLE"; got != want {
			t.Errorf("submit at 5s = %q, want %q", got, want)
		}
		time.Sleep(5 * time.Second)
		if got, want := submit(t, p), "ERROR_NO_SLOT_AVAILABLE"; got != want { // nothing held
			t.Errorf("submit at 10s = %q, want %q", got, want)
		}
		if got, want := poll(t, p, "2"), "OK|token2"; got != want {
			t.Errorf("poll(2) at 10s = %q, want %q", got, want)
		}
		st := p.Stats(DefaultKey)
		if st.Slots != 0 || st.OfferedSlotTime != 10*time.Second || st.UsedSlotTime != 3*time.Second || st.BusySlotTime != 4*time.Second {
			t.Errorf("Stats at 10s = slots %d, offered %v, used %v, busy %v; want 0, 10s, 3s, 4s",
				st.Slots, st.OfferedSlotTime, st.UsedSlotTime, st.BusySlotTime)
		}
		if got, want := st.Utilization(), 0.3; got != want {
			t.Errorf("Utilization() at 10s = %v, want %v", got, want)
		}
	})
}

// TestUtilizationWithoutSteps checks that, with no Capacity, Utilization is
// exactly the former BusySlotTime / (Slots x Elapsed) at every instant.
func TestUtilizationWithoutSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Seed: 3, Accounts: []Account{{Key: DefaultKey, Slots: 3}}})
		defer p.Close()
		for range 40 {
			submit(t, p)
			time.Sleep(2*time.Second + 345*time.Millisecond)
			st := p.Stats(DefaultKey)
			if st.OfferedSlotTime != 3*st.Elapsed || st.UsedSlotTime != st.BusySlotTime {
				t.Fatalf("Stats at %v = offered %v, used %v, busy %v; want offered 3 x elapsed, used = busy",
					st.Elapsed, st.OfferedSlotTime, st.UsedSlotTime, st.BusySlotTime)
			}
			old := float64(st.BusySlotTime) / (float64(st.Slots) * float64(st.Elapsed))
			if got := st.Utilization(); got != old {
				t.Fatalf("Utilization() at %v = %v, want %v", st.Elapsed, got, old)
			}
		}
		if got := (Stats{}).Utilization(); got != 0 {
			t.Errorf("Stats{}.Utilization() = %v, want 0", got)
		}
	})
}

func TestCapacityValidate(t *testing.T) {
	other := strings.Repeat("c", 32)
	tests := []struct {
		name string
		cap  []Step
		want string // "" for valid
	}{
		{"valid", []Step{{10 * time.Second, 1}, {20 * time.Second, 0}, {30 * time.Second, 4}}, ""},
		{"zero at", []Step{{0, 1}},
			"captchaaitest: Config.Accounts[1].Capacity[0].At 0s: must be positive"},
		{"negative at", []Step{{time.Second, 1}, {-time.Second, 1}},
			"captchaaitest: Config.Accounts[1].Capacity[1].At -1s: must be positive"},
		{"unsorted", []Step{{10 * time.Second, 1}, {5 * time.Second, 2}},
			"captchaaitest: Config.Accounts[1].Capacity[1].At 5s: must be after Capacity[0].At 10s"},
		{"same at", []Step{{10 * time.Second, 1}, {10 * time.Second, 2}},
			"captchaaitest: Config.Accounts[1].Capacity[1].At 10s: must be after Capacity[0].At 10s"},
		{"negative slots", []Step{{time.Second, 1}, {2 * time.Second, -1}},
			"captchaaitest: Config.Accounts[1].Capacity[1].Slots -1: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Accounts: []Account{{Key: DefaultKey}, {Key: other, Capacity: tt.cap}}}
			err := cfg.validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("validate(Capacity %v) = %q, want %q", tt.cap, got, tt.want)
			}
			if strings.Contains(got, other) {
				t.Errorf("validate(Capacity %v) error %q shows the key", tt.cap, got)
			}
		})
	}
}
