package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestArrivalSchedule checks that -arrivals draws a Poisson process: over
// 20 seeds the count in 10 minutes at 1/s has mean 600 and variance equal
// to its mean (a Poisson count's), the gaps have the spread of exponential
// ones (standard deviation equal to the mean), and a seed gives the same
// arrivals every time, another seed others.
func TestArrivalSchedule(t *testing.T) {
	const rate, seeds = 1.0, 20
	end := 10 * time.Minute
	want := rate * end.Seconds()
	var counts, gaps []float64
	for seed := range uint64(seeds) {
		ts := arrivalTimes(seed+1, rate, end)
		counts = append(counts, float64(len(ts)))
		if !slices.IsSorted(ts) || len(ts) > 0 && (ts[0] <= 0 || ts[len(ts)-1] >= end) {
			t.Fatalf("seed %d: arrivals not increasing within (0, %v)", seed+1, end)
		}
		prev := time.Duration(0)
		for _, at := range ts {
			gaps, prev = append(gaps, (at-prev).Seconds()), at
		}
	}
	// About 12000 gaps: their mean is within 0.05/rate of 1/rate (5
	// standard errors), and so is their standard deviation.
	if m, sd := meanSD(gaps); math.Abs(m-1/rate) > 0.05/rate || math.Abs(sd-1/rate) > 0.05/rate {
		t.Errorf("%d gaps: mean %.3fs sd %.3fs, want exponential: mean and sd %.3fs", len(gaps), m, sd, 1/rate)
	}
	m, sd := meanSD(counts)
	// The mean of 20 Poisson counts of mean 600 is within 4 standard
	// errors (4 x sqrt(600/20) = 22) of 600; their variance over their
	// mean, 19 times a chi-square of 19, is within 0.3 and 2.2.
	if math.Abs(m-want) > 4*math.Sqrt(want/seeds) {
		t.Errorf("mean arrivals %.1f in %v at %v/s, want %.0f +- %.0f", m, end, rate, want, 4*math.Sqrt(want/seeds))
	}
	if d := sd * sd / m; d < 0.3 || d > 2.2 {
		t.Errorf("arrival counts: variance/mean %.2f (sd %.1f, mean %.1f), want a Poisson's 1 (0.3-2.2)", d, sd, m)
	}
	if a, b := arrivalTimes(7, 2, end), arrivalTimes(7, 2, end); !slices.Equal(a, b) {
		t.Errorf("seed 7 drew %d then %d different arrivals, want the same", len(a), len(b))
	}
	if a, b := arrivalTimes(7, 2, end), arrivalTimes(8, 2, end); slices.Equal(a, b) {
		t.Errorf("seeds 7 and 8 drew the same arrivals")
	}
}

// meanSD returns the mean and the sample standard deviation of xs.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x / float64(len(xs))
	}
	for _, x := range xs {
		sd += (x - mean) * (x - mean) / float64(len(xs)-1)
	}
	return mean, math.Sqrt(sd)
}

// runOpen runs the policies on w under open-loop demand, in virtual time.
func runOpen(t *testing.T, w workload, names ...string) []result {
	t.Helper()
	var results []result
	synctest.Test(t, func(t *testing.T) {
		w.Speed = 1
		var err error
		results, err = runAll(context.Background(), w, mustPolicies(t, names...), nil)
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
	})
	for _, r := range results {
		a := r.ArrivalStats
		t.Logf("%-17s arrived %d in time %d missed %d (late %d abandoned %d lost %d dropped %d) cut off %d share %.3f p50 %.1fs p99 %.1fs billed %d attempts/task %.2f",
			r.Policy, a.Arrived, a.InTime, a.Missed, a.Late, a.Abandoned, r.Lost, a.Dropped, a.ArrCutOff, a.MissedShare, a.AcceptP50, a.AcceptP99, r.Accepted, r.AttemptsPerAcc)
	}
	return results
}

// checkCounts checks that every arrival of the seed's schedule was counted
// once (accepted in time, missed or cut off at the end) and that the
// provider billed every task the client counted accepted in time.
func checkCounts(t *testing.T, w workload, r result) {
	t.Helper()
	a := r.ArrivalStats
	if a == nil {
		t.Fatalf("%s: no arrival figures under -arrivals", r.Policy)
	}
	if want := len(arrivalTimes(w.Seed, w.Arrivals, w.Duration)); a.Arrived != want {
		t.Errorf("%s: %d arrived, want the schedule's %d", r.Policy, a.Arrived, want)
	}
	if sum := a.InTime + a.Missed + a.ArrCutOff; sum != a.Arrived {
		t.Errorf("%s: in time %d + missed %d + cut off %d = %d, want the %d arrived", r.Policy, a.InTime, a.Missed, a.ArrCutOff, sum, a.Arrived)
	}
	if parts := a.Late + a.Abandoned + r.Lost + a.Dropped; parts != a.Missed {
		t.Errorf("%s: late %d + abandoned %d + lost %d + dropped %d = %d, want the %d missed", r.Policy, a.Late, a.Abandoned, r.Lost, a.Dropped, parts, a.Missed)
	}
	if a.InTime != len(r.latency) {
		t.Errorf("%s: %d accepted in time, %d times to acceptance", r.Policy, a.InTime, len(r.latency))
	}
	if r.Accepted < a.InTime || a.BilledMissed != r.Accepted-a.InTime {
		t.Errorf("%s: provider billed %d, client accepted %d in time, billed-missed %d", r.Policy, r.Accepted, a.InTime, a.BilledMissed)
	}
	if w.Deadline > 0 && a.AcceptP99 > w.Deadline.Seconds() {
		t.Errorf("%s: accept p99 %.1fs past the %v deadline", r.Policy, a.AcceptP99, w.Deadline)
	}
}

// TestArrivalsDeadline runs 2 tasks a second, twice the default account's
// capacity, for 5 minutes with a 30 s deadline: every arrival is counted
// once, about half the tasks are missed, and the guide's batch loop, whose
// one lane cannot keep up, has tasks abandoned at their deadline. At half
// the capacity with a 2 minute deadline thread permits miss none.
func TestArrivalsDeadline(t *testing.T) {
	w := defaultWorkload()
	w.Duration = 5 * time.Minute
	w.Arrivals, w.Deadline = 2, 30*time.Second
	for _, r := range runOpen(t, w, "guide-batch", "slotguard", "slotguard-threads") {
		checkCounts(t, w, r)
		if s := r.MissedShare; s < 0.2 || s > 0.8 {
			t.Errorf("%s: missed share %.3f at twice the capacity, want 0.2-0.8", r.Policy, s)
		}
		if r.Policy == "guide-batch" && r.Abandoned == 0 {
			t.Errorf("guide-batch: no task abandoned at its deadline")
		}
	}
	w.Arrivals, w.Deadline = 0.5, 2*time.Minute
	for _, r := range runOpen(t, w, "slotguard-threads") {
		checkCounts(t, w, r)
		if r.Missed != 0 || r.InTime == 0 {
			t.Errorf("%s at half the capacity: %d missed, %d in time; want none missed", r.Policy, r.Missed, r.InTime)
		}
	}
}

// TestArrivalsDropped runs 10 tasks a second, no deadline, into the batch
// loop (2 a second at most): the tasks waiting pass maxPending, and the
// arrivals past it are dropped, counted missed.
func TestArrivalsDropped(t *testing.T) {
	w := defaultWorkload()
	w.Duration = 5 * time.Minute
	w.Arrivals = 10
	r := runOpen(t, w, "guide-batch")[0]
	checkCounts(t, w, r)
	if r.Dropped == 0 || r.Abandoned != 0 {
		t.Errorf("dropped %d, abandoned %d; want some dropped and, without a deadline, none abandoned", r.Dropped, r.Abandoned)
	}
	if pending := r.Arrived - r.Dropped - r.InTime - r.Lost - r.Late; pending > maxPending {
		t.Errorf("%d tasks waiting at the end, over the cap of %d", pending, maxPending)
	}
}

// TestArrivalsJSON checks that -json carries the open-loop figures under
// -arrivals, and leaves them out without.
func TestArrivalsJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, open := range []bool{true, false} {
			args := []string{"-speed", "1", "-duration", "1m", "-policies", "slotguard", "-json", "-"}
			if open {
				args = append(args, "-arrivals", "1.5", "-deadline", "20s")
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
			}
			var rep struct {
				Workload map[string]any   `json:"workload"`
				Results  []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("json: %v", err)
			}
			for _, k := range []string{"missed_share", "accept_p50_s", "accept_p99_s", "arrived", "billed_missed"} {
				if _, ok := rep.Results[0][k]; ok != open {
					t.Errorf("-arrivals %v: key %q present %v", open, k, ok)
				}
			}
			if open && (rep.Workload["arrivals"] != 1.5 || rep.Workload["deadline"] != "20s") {
				t.Errorf("workload: arrivals %v deadline %v, want 1.5 and 20s", rep.Workload["arrivals"], rep.Workload["deadline"])
			}
		}
	})
}

// TestArrivalsTable checks the table's heading and columns under -arrivals.
func TestArrivalsTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		args := []string{"-speed", "1", "-duration", "1m", "-policies", "guide-batch,slotguard", "-arrivals", "2", "-deadline", "20s"}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"tasks arriving at 2/s (Poisson), deadline 20s", "missed share", "accept p99", "fewest missed: ", "winner: "} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("table does not contain %q:\n%s", want, stdout.String())
			}
		}
	})
}

func TestArrivalFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-arrivals", "0"}, "-arrivals 0: must be a rate above 0"},
		{[]string{"-arrivals", "-1"}, "-arrivals -1: must be a rate above 0"},
		{[]string{"-arrivals", "NaN"}, "-arrivals NaN"},
		{[]string{"-arrivals", "5000"}, "at most 1000 tasks per second"},
		{[]string{"-arrivals", "1", "-workers", "50"}, "-arrivals and -workers: give one or the other"},
		{[]string{"-arrivals", "1", "-deadline", "0s"}, "-deadline 0s: must be positive"},
		{[]string{"-arrivals", "1", "-deadline", "-5s"}, "-deadline -5s: must be positive"},
		{[]string{"-deadline", "30s"}, "-deadline 30s: needs -arrivals"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) || stdout.Len() != 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// slowAnswer is the provider's transport with each submit's answer held
// back by delay after the provider has taken (and billed) the task: with
// ctxAware it gives the answer up when the request's context ends first,
// as a cancelled connection does; otherwise it delivers it late.
type slowAnswer struct {
	base     http.RoundTripper
	delay    time.Duration
	ctxAware bool
}

func (s slowAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/in.php") {
		return resp, err
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	if s.ctxAware {
		select {
		case <-t.C:
		case <-req.Context().Done():
			resp.Body.Close()
			return nil, req.Context().Err()
		}
	} else {
		<-t.C
	}
	return resp, nil
}

// TestTaskAcceptedUnseen submits one task whose answer the provider holds
// back past the task's 10 s deadline: cancelled at the deadline, it is
// abandoned, though the provider billed it, and the billed-but-missed count
// says so; delivered late instead, it is missed as late, and still polled
// (the provider solves it whatever the client thinks).
func TestTaskAcceptedUnseen(t *testing.T) {
	for _, ctxAware := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			w := defaultWorkload()
			w.Speed, w.Arrivals, w.Deadline = 1, 1, 10*time.Second
			e := newEnv(w)
			defer e.close()
			c := &http.Client{Transport: slowAnswer{base: e.wire, delay: 20 * time.Second, ctxAware: ctxAware}}
			submit := func(ctx context.Context) outcome {
				a, err := submitOnce(ctx, c)
				if err != nil {
					return lost(errReason(err))
				}
				return accepted(a.ID)
			}
			e.arr.arrived.Add(1)
			e.arr.pending.Add(1)
			e.task(context.Background(), submit, method, 0)
			st := e.prov.Stats(key)
			a := e.arrivalResult(st, nil)
			t.Logf("ctx-aware %v: billed %d polls %d: %+v", ctxAware, st.Accepted, st.Polls, *a)
			if st.Accepted != 1 || a.InTime != 0 || a.Missed != 1 || a.BilledMissed != 1 {
				t.Errorf("billed %d, in time %d, missed %d, billed-missed %d; want 1, 0, 1, 1", st.Accepted, a.InTime, a.Missed, a.BilledMissed)
			}
			if ctxAware && a.Abandoned != 1 || !ctxAware && (a.Late != 1 || st.Polls == 0) {
				t.Errorf("abandoned %d, late %d, polls %d; want the cancelled one abandoned, the late one late and polled", a.Abandoned, a.Late, st.Polls)
			}
		})
	}
}

// TestArrivalMethodsSeeded: under -mix, the k-th arrival of a seed's
// schedule is of the same method whatever the policy, dropped arrivals
// included: a policy that falls behind and has arrivals dropped faces the
// same tasks after them as one that keeps up.
func TestArrivalMethodsSeeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := defaultWorkload()
		w.Speed, w.Duration, w.Arrivals, w.Mix = 1, 30*time.Second, 100, "post=0.5,userrecaptcha=0.5"
		e := newEnv(w)
		defer e.close()
		var mu sync.Mutex
		got := map[time.Duration]string{}
		// Each task holds the submit 15 s: 1000 wait after 10 s, the next
		// are dropped, and from 15 s arrivals get through again.
		submit := func(ctx context.Context) outcome {
			mu.Lock()
			got[e.clock.now()] = methodOf(ctx)
			mu.Unlock()
			e.clock.sleep(ctx, 15*time.Second)
			return lost("held")
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { e.arrive(ctx, &wg, []submitFunc{submit}) })
		time.Sleep(e.clock.real(w.Duration))
		cancel()
		wg.Wait()
		draw := w.drawer(-1)
		var after int // submitted after the first drop
		for _, at := range arrivalTimes(w.Seed, w.Arrivals, w.Duration) {
			want := draw()
			if m, ok := got[at]; ok && m != want {
				t.Fatalf("arrival at %v: method %s, want %s, the seed's draw for it", at, m, want)
			} else if ok && at > 15*time.Second {
				after++
			}
		}
		if e.arr.dropped.Load() == 0 || after == 0 {
			t.Errorf("%d dropped, %d submitted after the drops; want both", e.arr.dropped.Load(), after)
		}
	})
}
