package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestSpanOf(t *testing.T) {
	tests := []struct {
		vs   []float64
		want span
	}{
		{[]float64{7}, span{Median: 7, Min: 7, Max: 7, Spread: 0}},
		{[]float64{3, 1, 2}, span{Median: 2, Min: 1, Max: 3, Spread: 1}},
		{[]float64{0.97, 0.962, 0.968}, span{Median: 0.968, Min: 0.962, Max: 0.97, Spread: (0.97 - 0.962) / 2}},
		{[]float64{4, 1, 3, 2}, span{Median: 2.5, Min: 1, Max: 4, Spread: 1.5}}, // even: mean of the middle two
		{[]float64{5, 5, 9, 5, 5}, span{Median: 5, Min: 5, Max: 9, Spread: 2}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.vs)
		if got := spanOf(tt.vs); !sameSpan(got, tt.want) {
			t.Errorf("spanOf(%v) = %+v, want %+v", tt.vs, got, tt.want)
		}
		if !slices.Equal(in, tt.vs) {
			t.Errorf("spanOf(%v) reordered its argument: %v", in, tt.vs)
		}
	}
}

// sameSpan tells whether a and b agree to within float rounding.
func sameSpan(a, b span) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*max(1, math.Abs(y)) }
	return near(a.Median, b.Median) && near(a.Min, b.Min) && near(a.Max, b.Max) && near(a.Spread, b.Spread)
}

func TestAggregate(t *testing.T) {
	runs := []result{
		{Policy: "p", Utilization: 0.96, AcceptedPerMin: 58, Accepted: 580, Lost: 19, P99: 84, Bans: 0,
			BansBy: map[string]int{}, LostBy: map[string]int{"circuit open": 19}, NoSlotPerMin: []int{60, 40}},
		{Policy: "p", Utilization: 0.97, AcceptedPerMin: 59, Accepted: 590, Lost: 12, P99: 80, Bans: 1,
			BansBy: map[string]int{"ERROR: 1001": 1}, LostBy: map[string]int{"circuit open": 10, "banned": 2}, NoSlotPerMin: []int{70, 50, 5}},
		{Policy: "p", Utilization: 0.95, AcceptedPerMin: 57, Accepted: 571, Lost: 15, P99: 90, Bans: 0,
			BansBy: map[string]int{}, LostBy: map[string]int{"circuit open": 15}, NoSlotPerMin: []int{65, 45}},
	}
	got := aggregate(runs)
	if got.Runs != 3 || got.Policy != "p" {
		t.Errorf("aggregate: Runs %d Policy %q, want 3 and p", got.Runs, got.Policy)
	}
	wantRow := []struct {
		name string
		got  float64
		want float64
		span span
	}{
		{"utilization", got.Utilization, 0.96, span{0.96, 0.95, 0.97, (0.97 - 0.95) / 2}},
		{"accepted_per_min", got.AcceptedPerMin, 58, span{58, 57, 59, 1}},
		{"accepted", float64(got.Accepted), 580, span{580, 571, 590, 9.5}},
		{"lost", float64(got.Lost), 15, span{15, 12, 19, 3.5}},
		{"p99_s", got.P99, 84, span{84, 80, 90, 5}},
		{"bans", float64(got.Bans), 0, span{0, 0, 1, 0.5}},
	}
	for _, w := range wantRow {
		if w.got != w.want {
			t.Errorf("aggregate: %s = %v, want the median %v", w.name, w.got, w.want)
		}
		if s := got.Range[w.name]; !sameSpan(s, w.span) {
			t.Errorf("aggregate: Range[%s] = %+v, want %+v", w.name, s, w.span)
		}
	}
	if !got.banned() {
		t.Errorf("aggregate: banned() = false with a ban in one run of three, want true")
	}
	if want := map[string]int{"ERROR: 1001": 0}; !maps.Equal(got.BansBy, want) {
		t.Errorf("aggregate: BansBy = %v, want %v", got.BansBy, want)
	}
	if want := map[string]int{"circuit open": 15, "banned": 0}; !maps.Equal(got.LostBy, want) {
		t.Errorf("aggregate: LostBy = %v, want %v", got.LostBy, want)
	}
	if want := []int{65, 45, 0}; !slices.Equal(got.NoSlotPerMin, want) {
		t.Errorf("aggregate: NoSlotPerMin = %v, want %v", got.NoSlotPerMin, want)
	}
	// Every number JSON writes has its range.
	for _, f := range reflect.VisibleFields(reflect.TypeFor[result]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		k := f.Type.Kind()
		if len(f.Index) > 1 {
			continue // -arrivals' figures: TestAggregateByMethodAndLateness
		}
		if (k == reflect.Int || k == reflect.Float64) && name != "runs" {
			if _, ok := got.Range[name]; !ok {
				t.Errorf("aggregate: no Range[%q] for field %s", name, f.Name)
			}
		}
	}
}

// spreadRow is a ban-free row of the median of 3 runs, with the spreads
// of goodput and attempts per task.
func spreadRow(name string, goodput, goodputSpread, attempts, attemptsSpread float64) result {
	return result{Policy: name, Runs: 3, AcceptedPerMin: goodput, AttemptsPerAcc: attempts, Range: map[string]span{
		"accepted_per_min":  {Median: goodput, Min: goodput - goodputSpread, Max: goodput + goodputSpread, Spread: goodputSpread},
		"attempts_per_task": {Median: attempts, Min: attempts - attemptsSpread, Max: attempts + attemptsSpread, Spread: attemptsSpread},
	}}
}

// TestVerdictSpread: goodputs 5% apart (past the 2% a single run ties
// within) tie when their spreads overlap, and the one with fewer attempts
// wins only when its attempts lie outside the spreads too.
func TestVerdictSpread(t *testing.T) {
	tests := []struct {
		name string
		rows []result
		want string // the verdict's start
	}{
		{"spreads overlap", []result{spreadRow("a", 60, 2, 2, 0.05), spreadRow("b", 57, 1.5, 2, 0.05)},
			"tied: a, b (goodput and attempts/task within the spread of 3 runs); a, 60.0 tasks accepted/min"},
		{"spreads apart", []result{spreadRow("a", 60, 1, 2, 0.05), spreadRow("b", 57, 1, 2, 0.05)},
			"winner: a, 60.0 tasks accepted/min"},
		{"goodput tied, attempts apart", []result{spreadRow("a", 60, 2, 2, 0.05), spreadRow("b", 57, 1.5, 1.5, 0.05)},
			"winner: b, 57.0 tasks accepted/min"},
		{"goodput tied, attempts overlap", []result{spreadRow("a", 60, 2, 2, 0.3), spreadRow("b", 57, 1.5, 1.5, 0.3)},
			"tied: a, b (goodput and attempts/task within the spread of 3 runs); a, 60.0"}, // then table order
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(tt.rows); !strings.HasPrefix(got, tt.want) {
				t.Errorf("verdict = %q, want it to start %q", got, tt.want)
			}
		})
	}
	// A ban in one run of three puts the policy out, whatever its median.
	b := spreadRow("b", 70, 0.5, 1, 0.01)
	b.Range["bans"] = span{Median: 0, Min: 0, Max: 1, Spread: 0.5}
	if got := verdict([]result{spreadRow("a", 60, 1, 2, 0.05), b}); !strings.HasPrefix(got, "winner: a,") || !strings.Contains(got, "banned: b") {
		t.Errorf("verdict with a ban in one run of b = %q, want a to win and b banned", got)
	}
}

func TestRunsFlag(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || o.runs != defaultRuns {
		t.Errorf("parseFlags(nil): runs %d, err %v; want %d", o.runs, err, defaultRuns)
	}
	for _, n := range []string{"0", "-2"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-runs", n}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-runs "+n+": must be at least 1") {
			t.Errorf("run(-runs %s) = %d, stderr %q; want 2 and the flag named", n, code, stderr.String())
		}
	}
}

// TestRunsJSON runs the command with -runs 3 -json - on a short workload
// in virtual time and checks that every row is the median of 3 runs and
// carries each number's median, min and max.
func TestRunsJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		args := []string{"-runs", "3", "-json", "-", "-speed", "1", "-duration", "2m", "-slots", "5", "-workers", "12",
			"-policies", "naive,guide-batch,slotguard"}
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		var rep struct {
			Results []map[string]any `json:"results"`
			Verdict string           `json:"verdict"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("json: %v\n%s", err, stdout.String())
		}
		if len(rep.Results) != 3 {
			t.Fatalf("json: %d rows, want 3", len(rep.Results))
		}
		for _, row := range rep.Results {
			if row["runs"] != 3.0 {
				t.Errorf("%v: runs = %v, want 3", row["policy"], row["runs"])
			}
			rng, _ := row["range"].(map[string]any)
			for _, m := range []string{"accepted_per_min", "utilization", "accepted", "p50_s", "p99_s", "attempts_per_task", "peak_no_slot_per_min", "bans", "lost"} {
				s, ok := rng[m].(map[string]any)
				if !ok {
					t.Errorf("%v: no range for %s in %v", row["policy"], m, rng)
					continue
				}
				lo, med, hi := s["min"].(float64), s["median"].(float64), s["max"].(float64)
				if !(lo <= med && med <= hi) || s["spread"] != (hi-lo)/2 {
					t.Errorf("%v: range[%s] = %v, want min <= median <= max and spread (max-min)/2", row["policy"], m, s)
				}
			}
		}
		// What the provider saw: slotguard was accepted tasks in each of
		// its runs, and the seeds drew different solve times.
		sg := rep.Results[2]["range"].(map[string]any)["accepted"].(map[string]any)
		if sg["min"].(float64) == 0 || sg["min"] == sg["max"] {
			t.Errorf("slotguard accepted %v over its 3 runs: want tasks in each, and seeds that differ", sg)
		}
		if rep.Verdict == "" {
			t.Errorf("json: no verdict")
		}
	})
}

// TestRunsAtOnce checks in virtual time that parallelRuns runs go at once:
// parallelRuns runs of a policy take one run's duration, one more takes
// two.
func TestRunsAtOnce(t *testing.T) {
	for _, tt := range []struct{ runs, waves int }{{1, 1}, {parallelRuns, 1}, {parallelRuns + 1, 2}} {
		synctest.Test(t, func(t *testing.T) {
			w := defaultWorkload()
			w.Speed, w.Duration, w.Workers = 1, time.Minute, 5
			start := time.Now()
			results, err := runRepeated(context.Background(), w, mustPolicies(t, "guide-batch"), tt.runs, nil)
			if err != nil {
				t.Fatalf("runRepeated: %v", err)
			}
			if got, want := time.Since(start), time.Duration(tt.waves)*w.Duration; got != want {
				t.Errorf("%d runs took %v, want %v", tt.runs, got, want)
			}
			if got := results[0].Runs; got != tt.runs {
				t.Errorf("%d runs: row of %d runs", tt.runs, got)
			}
		})
	}
}

// TestRunsTable checks the table's ± and its note on the runs.
func TestRunsTable(t *testing.T) {
	r := aggregate([]result{
		{Policy: "p", Utilization: 0.966, AcceptedPerMin: 59.0, P50: 13, AttemptsPerAcc: 2.01, PeakNoSlot: 68, Lost: 19},
		{Policy: "p", Utilization: 0.970, AcceptedPerMin: 59.5, P50: 14, AttemptsPerAcc: 2.02, PeakNoSlot: 69, Lost: 18},
		{Policy: "p", Utilization: 0.974, AcceptedPerMin: 59.6, P50: 20, AttemptsPerAcc: 2.05, PeakNoSlot: 71, Lost: 22},
	})
	var out bytes.Buffer
	w := defaultWorkload()
	if err := writeTable(&out, w, []result{r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"59.5 ±0.3", "97.0% ±0.4", "14.0s ±3.5", "2.02 ±0.02", "69 ±1.5", "19 ±2.0", "the median of 3 runs, seeds 1-3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table does not contain %q:\n%s", want, out.String())
		}
	}
	one := aggregate([]result{{Policy: "p", Utilization: 0.97}})
	out.Reset()
	writeTable(&out, w, []result{one})
	if strings.Contains(out.String(), "±") || strings.Contains(out.String(), "median of") {
		t.Errorf("table of single runs shows spreads:\n%s", out.String())
	}
	if got, want := one.Range["utilization"], (span{0.97, 0.97, 0.97, 0}); got != want {
		t.Errorf("single run: Range[utilization] = %+v, want %+v", got, want)
	}
}

// TestAggregateByMethodAndLateness: a method's figures and the open-loop
// ones are their medians over the runs, and the timer lateness is the worst
// run's.
func TestAggregateByMethodAndLateness(t *testing.T) {
	runs := []result{
		{ByMethod: map[string]methodResult{"post": {Accepted: 10, AcceptedPerMin: 1, P99: 5, LostBy: map[string]int{"x": 1}}}, TimerLateness: latenessStats{Mean: 0.1, Max: 2}},
		{ByMethod: map[string]methodResult{"post": {Accepted: 30, AcceptedPerMin: 3, P99: 9}}, TimerLateness: latenessStats{Mean: 0.3, Max: 1}},
		{ByMethod: map[string]methodResult{"post": {Accepted: 20, AcceptedPerMin: 2, P99: 7, LostBy: map[string]int{"x": 3}}}, TimerLateness: latenessStats{Mean: 0.2, Max: 3}},
	}
	for i, share := range []float64{0.1, 0.3, 0.2} {
		runs[i].ArrivalStats = &ArrivalStats{Arrived: 100 + i, MissedShare: share}
	}
	got := aggregate(runs)
	if a := got.ArrivalStats; a.MissedShare != 0.2 || a.Arrived != 101 || got.Range["missed_share"].Max != 0.3 {
		t.Errorf("aggregate arrivals: %+v, range %+v; want the medians 0.2 and 101, max 0.3", *a, got.Range["missed_share"])
	}
	if runs[0].ArrivalStats.MissedShare != 0.1 {
		t.Errorf("aggregate changed run 0's figures: %+v", *runs[0].ArrivalStats)
	}
	p := got.ByMethod["post"]
	if p.Accepted != 20 || p.AcceptedPerMin != 2 || p.P99 != 7 || p.LostBy["x"] != 1 {
		t.Errorf("aggregate by method: %+v, want the medians 20, 2/min, p99 7, lost x 1", p)
	}
	if l := got.TimerLateness; l.Mean != 0.3 || l.Max != 3 {
		t.Errorf("aggregate lateness: %+v, want the worst: mean 0.3, max 3", l)
	}
}

// TestRunsArrivalTable: under -arrivals the table's figures are medians
// too, each with its spread, and the note on the runs says so.
func TestRunsArrivalTable(t *testing.T) {
	runs := make([]result, 3)
	for i := range runs {
		runs[i] = result{Policy: "p", AcceptedPerMin: 55 + float64(i), Utilization: 0.90 + 0.01*float64(i),
			ArrivalStats: &ArrivalStats{Arrived: 584, InTime: 550 + 4*i, Missed: 10 - 2*i, MissedShare: 0.02 - 0.004*float64(i), AcceptP99: 30 + float64(i)}}
	}
	r := aggregate(runs)
	w := defaultWorkload()
	w.Arrivals, w.Deadline = 1, time.Minute
	var out bytes.Buffer
	if err := writeTable(&out, w, []result{r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"56.0 ±1.0", "91.0% ±1.0", "554 ±4.0", "8 ±2.0", "1.6% ±0.4", "31.0s ±1.0", "the median of 3 runs, seeds 1-3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-arrivals table does not contain %q:\n%s", want, out.String())
		}
	}
}
