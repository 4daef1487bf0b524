package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Repeated runs (-runs N, issue 16 item 1). One run of a policy is one
// seed's draw of solve times, jitter and arrival order; its figures move
// from seed to seed by more than two policies differ. So every policy runs
// N times, on seeds -seed to -seed+N-1 (the same seeds for every policy),
// and each figure is reported as its median over the runs with its spread.

// defaultRuns is -runs without the flag: what fits the main command's
// budget of about 25 s (see doc.go, Repeated runs).
const defaultRuns = 3

// parallelRuns is how many runs go at once. Each run has its own in-memory
// provider and uses about 6% of a core at x150 (0.25 s of CPU in its 4 s),
// so four at once leave a 2-core machine mostly idle and their figures
// where the runs one at a time put them; with four at once the default
// 7 policies x 3 runs take 6 rounds of 4 s. BENCHMARKS.md (Runs at once,
// and the machine) has the measurements behind the number.
const parallelRuns = 4

// span is one measure over the runs of a policy.
type span struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Spread is half the min-max range: the ± of the table. Two figures
	// whose medians differ by no more than the sum of their spreads (the
	// intervals median ± spread overlap) tie.
	Spread float64 `json:"spread"`
}

// spanOf returns the median, the range and the spread of vs (not empty).
// The median of an even number of runs is the mean of the middle two.
func spanOf(vs []float64) span {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return span{Median: med, Min: s[0], Max: s[n-1], Spread: (s[n-1] - s[0]) / 2}
}

// addRunsFlag registers -runs on fs.
func (o *options) addRunsFlag(fs *flag.FlagSet) {
	fs.IntVar(&o.runs, "runs", defaultRuns, "runs of each policy, on seeds -seed, -seed+1, ...: each figure is their median ± spread (half the min-max range)")
}

// checkRuns tells whether -runs n can run.
func checkRuns(n int) error {
	if n < 1 {
		return usageError("-runs %d: must be at least 1", n)
	}
	return nil
}

// job is one run: a policy on one seed.
type job struct {
	p    policy
	i    int    // the policy's index in the table
	seed uint64 // the run's seed
}

// runRepeated runs each policy n times, on seeds w.Seed to w.Seed+n-1,
// parallelRuns at a time in table order, and returns one row per policy:
// each measure's median, with its range in Range. progress, if not nil, is
// told of the runs under way: i and n count runs, not policies.
func runRepeated(ctx context.Context, w workload, ps []policy, n int, progress func(i, n int, name string, at time.Duration)) ([]result, error) {
	var jobs []job
	for i, p := range ps {
		for k := range n {
			jobs = append(jobs, job{p: p, i: i, seed: w.Seed + uint64(k)})
		}
	}
	runs := make([][]result, len(ps))
	for i := range runs {
		runs[i] = make([]result, n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // serialises progress, guards firstErr
		firstErr error
		wg       sync.WaitGroup
		free     = make(chan struct{}, parallelRuns)
	)
	for j, jb := range jobs {
		select {
		case free <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wj := w
		wj.Seed = jb.seed
		var pf func(time.Duration)
		if progress != nil {
			name := fmt.Sprintf("%s, seed %d", jb.p.name, jb.seed)
			pf = func(at time.Duration) { mu.Lock(); progress(j, len(jobs), name, at); mu.Unlock() }
		}
		wg.Go(func() {
			defer func() { <-free }()
			r, err := runPolicy(ctx, wj, jb.p, pf)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel() // one failed run fails the command: stop the others
				return
			}
			runs[jb.i][int(jb.seed-w.Seed)] = r
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if progress != nil {
		progress(len(jobs), len(jobs), "", 0)
	}
	out := make([]result, len(ps))
	for i := range ps {
		out[i] = aggregate(runs[i])
	}
	return out, nil
}

// aggregate folds the runs of one policy (in seed order) into one row.
// Every number of the row that JSON writes (an int or float64 field)
// becomes its median, and its median, range and spread go into Range under
// its JSON name. The fields are found by reflection so that a measure added
// to result later gets its median and range without a second list to keep
// in step. The per-code counts (bans_by, lost_by) and the NO_SLOT answers
// per minute are medians key by key; the rest (the plot's data) is the run
// on the first seed's.
func aggregate(runs []result) result {
	agg := runs[0]
	agg.Runs = len(runs)
	agg.Range = map[string]span{}
	if agg.ArrivalStats != nil {
		a := *agg.ArrivalStats // the medians go in a copy, not in run 0's
		agg.ArrivalStats = &a
	}
	if agg.OutageStats != nil {
		o := *agg.OutageStats
		agg.OutageStats = &o
	}
	row := reflect.ValueOf(&agg).Elem()
	for _, f := range reflect.VisibleFields(row.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" || name == "runs" {
			continue
		}
		dst, err := row.FieldByIndexErr(f.Index)
		if err != nil {
			continue // promoted through a nil pointer: no -arrivals
		}
		var s span
		switch f.Type.Kind() {
		case reflect.Int:
			s = spanOf(fieldOf(runs, f.Index, reflect.Value.Int))
			dst.SetInt(int64(math.Round(s.Median)))
		case reflect.Float64:
			s = spanOf(fieldOf(runs, f.Index, reflect.Value.Float))
			dst.SetFloat(s.Median)
		default:
			continue
		}
		agg.Range[name] = s
	}
	agg.BansBy = medianByKey(runs, func(r result) map[string]int { return r.BansBy })
	agg.LostBy = medianByKey(runs, func(r result) map[string]int { return r.LostBy })
	agg.NoSlotPerMin = medianSeries(runs, func(r result) []int { return r.NoSlotPerMin })
	agg.ByMethod = medianByMethod(runs)
	for _, r := range runs {
		// The worst run's lateness: the warning is about the least
		// trustworthy of the runs the medians come from.
		l := &agg.TimerLateness
		l.Sleeps = max(l.Sleeps, r.TimerLateness.Sleeps)
		l.Mean, l.P50 = max(l.Mean, r.TimerLateness.Mean), max(l.P50, r.TimerLateness.P50)
		l.P99, l.Max = max(l.P99, r.TimerLateness.P99), max(l.Max, r.TimerLateness.Max)
	}
	return agg
}

// medianByMethod returns each method's figures as their medians over the
// runs (a run without the method counts as zeros).
func medianByMethod(runs []result) map[string]methodResult {
	if runs[0].ByMethod == nil {
		return nil
	}
	out := map[string]methodResult{}
	for m := range runs[0].ByMethod {
		of := func(f func(methodResult) float64) float64 {
			vs := make([]float64, len(runs))
			for i, r := range runs {
				vs[i] = f(r.ByMethod[m])
			}
			return spanOf(vs).Median
		}
		ofInt := func(f func(methodResult) int) int {
			return int(math.Round(of(func(r methodResult) float64 { return float64(f(r)) })))
		}
		mr := methodResult{
			Accepted:       ofInt(func(r methodResult) int { return r.Accepted }),
			AcceptedPerMin: of(func(r methodResult) float64 { return r.AcceptedPerMin }),
			Started:        ofInt(func(r methodResult) int { return r.Started }),
			Lost:           ofInt(func(r methodResult) int { return r.Lost }),
			ShareAccepted:  of(func(r methodResult) float64 { return r.ShareAccepted }),
			LostBy:         medianByKey(runs, func(r result) map[string]int { return r.ByMethod[m].LostBy }),
			Attempts:       ofInt(func(r methodResult) int { return r.Attempts }),
			AttemptsPerAcc: of(func(r methodResult) float64 { return r.AttemptsPerAcc }),
			NoSlot:         ofInt(func(r methodResult) int { return r.NoSlot }),
			P50:            of(func(r methodResult) float64 { return r.P50 }),
			P99:            of(func(r methodResult) float64 { return r.P99 }),
		}
		if runs[0].ByMethod[m].OutageStats != nil {
			ofOutage := func(f func(OutageStats) float64) float64 {
				return of(func(r methodResult) float64 {
					if r.OutageStats == nil {
						return 0
					}
					return f(*r.OutageStats)
				})
			}
			mr.OutageStats = &OutageStats{
				DuringPerMin:  ofOutage(func(o OutageStats) float64 { return o.DuringPerMin }),
				OutsidePerMin: ofOutage(func(o OutageStats) float64 { return o.OutsidePerMin }),
				Kept:          ofOutage(func(o OutageStats) float64 { return o.Kept }),
				ArrivedPerMin: ofOutage(func(o OutageStats) float64 { return o.ArrivedPerMin }),
			}
		}
		out[m] = mr
	}
	return out
}

// fieldOf returns the field at index of each run, as a float64 (0 where
// the run lacks it: a nil embedded pointer).
func fieldOf[T int64 | float64](runs []result, index []int, get func(reflect.Value) T) []float64 {
	vs := make([]float64, len(runs))
	for k := range runs {
		if v, err := reflect.ValueOf(runs[k]).FieldByIndexErr(index); err == nil {
			vs[k] = float64(get(v))
		}
	}
	return vs
}

// medianByKey returns, for every key of any run's map, the median over the
// runs of its count (0 where a run lacks it), rounded.
func medianByKey(runs []result, m func(result) map[string]int) map[string]int {
	out := map[string]int{}
	for _, r := range runs {
		for k := range m(r) {
			out[k] = 0
		}
	}
	for _, k := range slices.Collect(maps.Keys(out)) {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = float64(m(r)[k])
		}
		out[k] = int(math.Round(spanOf(vs).Median))
	}
	return out
}

// medianSeries returns the median over the runs at each index of their
// series (0 where a run's is shorter), rounded.
func medianSeries(runs []result, s func(result) []int) []int {
	n := 0
	for _, r := range runs {
		n = max(n, len(s(r)))
	}
	out := make([]int, n)
	vs := make([]float64, len(runs))
	for j := range out {
		for i, r := range runs {
			vs[i] = 0
			if j < len(s(r)) {
				vs[i] = float64(s(r)[j])
			}
		}
		out[j] = int(math.Round(spanOf(vs).Median))
	}
	return out
}

// spread returns the spread of measure (a JSON name) over r's runs; 0 for
// a single run.
func (r result) spread(measure string) float64 { return r.Range[measure].Spread }

// banned tells whether r started a ban in any of its runs: a policy that
// gets the key blocked one run in three is not safe, whatever its median.
func (r result) banned() bool { return r.Bans > 0 || r.Range["bans"].Max > 0 }

// pm appends to s, a figure of the table, the spread of measure (times
// scale, with prec decimals) after a ±, when r is more than one run.
func (r result) pm(s, measure string, scale float64, prec int) string {
	if r.Runs <= 1 {
		return s
	}
	return s + " ±" + strconv.FormatFloat(r.spread(measure)*scale, 'f', prec, 64)
}

// tieNote says, in the verdict, what tied means for runs.
func tieNote(runs int) string {
	if runs <= 1 {
		return fmt.Sprintf("goodput and attempts/task within %.0f%% of each other, the noise of one run", 100*tieShare)
	}
	return fmt.Sprintf("goodput and attempts/task within the spread of %d runs", runs)
}

// runsNote is the table's line on the runs: how many, on which seeds, and
// what the ± means; "" for single runs.
func runsNote(w workload, results []result) string {
	if len(results) == 0 || results[0].Runs <= 1 {
		return ""
	}
	n := results[0].Runs
	return fmt.Sprintf("(each figure: the median of %d runs, seeds %d-%d; ±: the spread, half the range from the lowest run to the highest; a winner must beat the others by more than the spreads)",
		n, w.Seed, w.Seed+uint64(n)-1)
}
