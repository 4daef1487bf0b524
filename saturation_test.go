package slotguard

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slotModel is a minimal account: slots threads, each accepted task holds
// one for a solve time drawn from [minSolve, maxSolve).
type slotModel struct {
	slots              int
	minSolve, maxSolve time.Duration
	stop               time.Time // busy time after it is not counted

	mu      sync.Mutex
	rng     *rand.Rand
	ends    []time.Time // when each busy slot frees
	busy    time.Duration
	noSlot  []time.Time
	attempt int
}

func (m *slotModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempt++
	live := m.ends[:0]
	for _, e := range m.ends {
		if e.After(now) {
			live = append(live, e)
		}
	}
	m.ends = live
	if len(m.ends) >= m.slots {
		m.noSlot = append(m.noSlot, now)
		io.WriteString(w, CodeNoSlot)
		return
	}
	solve := m.minSolve + time.Duration(m.rng.Int64N(int64(m.maxSolve-m.minSolve)))
	m.ends = append(m.ends, now.Add(solve))
	m.busy += max(0, min(solve, m.stop.Sub(now)))
	w.Header().Set("X-Solve", solve.String())
	io.WriteString(w, "OK|1")
}

// TestBreakerDefaultsRideOutSaturation: with demand at twice the account's
// capacity (20 slots, 10-30 s solves, 50 workers, the default pace), about
// half of all attempts get NO_SLOT, yet the default breaker never opens,
// the slots stay busy, and NO_SLOT answers stay under the provider's 120 a
// minute.
func TestBreakerDefaultsRideOutSaturation(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { rideOutSaturation(t, seed, Config{}, 0.96, 2.1) })
	}
}

// TestAdaptiveUnderSaturation: the same workload with Adaptive pacing keeps
// the slots about 95 % busy at under 1.5 attempts per accepted task (the
// trade documented on Adaptive).
func TestAdaptiveUnderSaturation(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rideOutSaturation(t, seed, Config{Adaptive: Adaptive{Enabled: true}}, 0.94, 1.5)
		})
	}
}

// rideOutSaturation runs the model and checks utilisation and attempts per
// accepted task against the bounds.
func rideOutSaturation(t *testing.T, seed uint64, cfg Config, minUtil, maxAttempts float64) {
	synctest.Test(t, func(t *testing.T) {
		const run = 10 * time.Minute
		start := time.Now()
		m := &slotModel{slots: 20, minSolve: 10 * time.Second, maxSolve: 30 * time.Second,
			stop: start.Add(run), rng: rand.New(rand.NewPCG(seed, 2))}
		tr := mustNew(t, memRT{m}, cfg)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for time.Since(start) < run {
					resp, err := tr.RoundTrip(submitReq(t))
					if errors.Is(err, ErrCircuitOpen) {
						t.Errorf("breaker opened at %v", time.Since(start))
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					solve, _ := time.ParseDuration(resp.Header.Get("X-Solve"))
					resp.Body.Close()
					time.Sleep(solve) // the worker polls until its task is solved
				}
			})
		}
		wg.Wait()
		st := tr.Stats()
		if st.BreakerOpens != 0 {
			t.Errorf("BreakerOpens = %d, want 0", st.BreakerOpens)
		}
		share := float64(st.Answers[CodeNoSlot]) / float64(st.Attempts)
		if share < 0.25 {
			t.Errorf("NO_SLOT share = %.2f: the workload is not saturated, the test proves nothing", share)
		}
		util := float64(m.busy) / float64(20*run)
		if util < minUtil {
			t.Errorf("slot utilisation = %.3f, want at least %.2f", util, minUtil)
		}
		if per := float64(st.Attempts) / float64(st.Accepted); per > maxAttempts {
			t.Errorf("attempts per accepted task = %.2f, want at most %.2f", per, maxAttempts)
		}
		peak := 0
		for i, at := range m.noSlot {
			j := i
			for j < len(m.noSlot) && m.noSlot[j].Sub(at) < time.Minute {
				j++
			}
			peak = max(peak, j-i)
		}
		if peak >= 120 {
			t.Errorf("peak NO_SLOT answers in a minute = %d, want under 120", peak)
		}
		t.Logf("attempts %d, accepted %d, NO_SLOT share %.2f, utilisation %.3f, peak NO_SLOT/min %d",
			st.Attempts, st.Accepted, share, util, peak)
	})
}
