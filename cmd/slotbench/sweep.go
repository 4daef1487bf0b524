package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/slotguard/slotguard"
)

// -sweep runs one policy once per setting of its main knob, on the
// workload of the flags, and prints the frontier: which settings no other
// beats on every count, and the one it recommends, as a Config to paste.

// sweepSetting is one setting of a sweep: its label, the Config it runs
// and that Config as Go source.
type sweepSetting struct {
	label   string
	cfg     slotguard.Config
	literal string
}

// sweepSpec is the knob a policy's sweep turns, and its settings in order.
type sweepSpec struct {
	param    string
	settings []sweepSetting
}

// fmtFloat formats f as the shortest Go literal that reads back as f.
func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// sweepFor returns the sweep of policy name: Config.Rate for slotguard (its
// defaults), the AIMD factors for slotguard-adaptive, Threads.Overbook for
// slotguard-threads. The other policies have none.
func sweepFor(name string) (sweepSpec, bool) {
	switch name {
	case "slotguard":
		s := sweepSpec{param: "Config.Rate (submit attempts per second; default 2)"}
		for _, r := range []float64{0.75, 1, 1.5, 2, 3, 4} {
			s.settings = append(s.settings, sweepSetting{
				label:   "Rate " + fmtFloat(r),
				cfg:     slotguard.Config{Rate: r},
				literal: "slotguard.Config{Rate: " + fmtFloat(r) + "}",
			})
		}
		return s, true
	case "slotguard-adaptive":
		s := sweepSpec{param: "Adaptive.Decrease and Adaptive.Increase (factor per NO_SLOT, attempts/s added per acceptance; default 0.75 and Rate/8 = 0.25)"}
		for _, f := range [][2]float64{{0.5, 0.5}, {0.65, 0.35}, {0.75, 0.25}, {0.85, 0.1}, {0.9, 0.1}, {0.95, 0.05}} {
			s.settings = append(s.settings, sweepSetting{
				label: "Decrease " + fmtFloat(f[0]) + " Increase " + fmtFloat(f[1]),
				cfg:   slotguard.Config{Adaptive: slotguard.Adaptive{Enabled: true, Decrease: f[0], Increase: f[1]}},
				literal: "slotguard.Config{Adaptive: slotguard.Adaptive{Enabled: true, Decrease: " + fmtFloat(f[0]) +
					", Increase: " + fmtFloat(f[1]) + "}}",
			})
		}
		return s, true
	case "slotguard-threads":
		s := sweepSpec{param: "Threads.Overbook (permits above the capacity; default 0: measured from the poll lag)"}
		s.settings = append(s.settings, sweepSetting{
			label:   "Overbook measured",
			cfg:     slotguard.Config{Threads: slotguard.Threads{Enabled: true}},
			literal: "slotguard.Config{Threads: slotguard.Threads{Enabled: true}}",
		})
		for _, n := range []int{1, 2, 3, 4, 6} {
			s.settings = append(s.settings, sweepSetting{
				label:   "Overbook " + strconv.Itoa(n),
				cfg:     slotguard.Config{Threads: slotguard.Threads{Enabled: true, Overbook: n}},
				literal: "slotguard.Config{Threads: slotguard.Threads{Enabled: true, Overbook: " + strconv.Itoa(n) + "}}",
			})
		}
		return s, true
	}
	return sweepSpec{}, false
}

// sweepable names the policies -sweep knows, for its error message.
const sweepable = "slotguard, slotguard-adaptive, slotguard-threads"

// checkSweep tells whether -sweep has what it needs: exactly one policy,
// given by -policies, that has a sweep, and no -csv (the sweep writes its
// own table, JSON and plot).
func (o options) checkSweep(names string) error {
	switch {
	case names == "" || len(o.policies) != 1:
		return usageError("-sweep: give exactly one policy with -policies (one of %s)", sweepable)
	case o.csv != "":
		return usageError("-sweep: -csv is not written by a sweep (use -json)")
	}
	if _, ok := sweepFor(o.policies[0].name); !ok {
		return usageError("-sweep: policy %s has no setting to sweep (one of %s)", o.policies[0].name, sweepable)
	}
	return nil
}

// sweepRow is one setting's run, as the JSON gives it.
type sweepRow struct {
	Setting  string `json:"setting"`
	Config   string `json:"config"`   // the setting as Go source
	Frontier bool   `json:"frontier"` // on the Pareto frontier
	Result   result `json:"result"`
}

// runSweep runs each setting of o's one policy on o's workload, -runs
// times each: the frontier and the rule read the medians.
func runSweep(ctx context.Context, o options, progress func(i, n int, name string, at time.Duration)) ([]sweepRow, sweepSpec, error) {
	spec, _ := sweepFor(o.policies[0].name)
	ps := make([]policy, len(spec.settings))
	for i, s := range spec.settings {
		ps[i] = policy{name: s.label, about: s.literal, build: buildSlotguard(s.cfg)}
	}
	results, err := runRepeated(ctx, o.w, ps, o.runs, progress)
	if err != nil {
		return nil, spec, err
	}
	rows := make([]sweepRow, len(results))
	for i, r := range results {
		rows[i] = sweepRow{Setting: spec.settings[i].label, Config: spec.settings[i].literal, Result: r}
	}
	markFrontier(rows)
	return rows, spec, nil
}

// sweepCommand is the command under -sweep: run, then the table, the JSON
// and the plot as the flags ask. It returns the exit code.
func sweepCommand(o options, stdout, stderr io.Writer) int {
	rows, spec, err := runSweep(context.Background(), o, progressTo(stderr, o.w.Duration))
	if err != nil {
		fmt.Fprintf(stderr, "slotbench: %v\n", err)
		return 1
	}
	rec := recommend(rows, o.w.Arrivals > 0)
	doc := sweepReport{Workload: o.w, Policy: o.policies[0].name, Parameter: spec.param, Settings: rows, Rule: rec.rule}
	if rec.row != nil {
		doc.Recommended, doc.Config = rec.row.Setting, rec.row.Config
	}
	results := make([]result, len(rows))
	for i, row := range rows {
		results[i] = row.Result
	}
	doc.Warning = latenessWarning(o.w, results)
	code := 0
	if o.json != "-" {
		if err := writeSweepTable(stdout, doc); err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			code = 1
		}
	} else if doc.Warning != "" {
		fmt.Fprintf(stderr, "slotbench: %s\n", doc.Warning) // the table's footer would have said it
	}
	return max(code, writeOutputs(stdout, stderr, []output{
		{o.json, func(f io.Writer) error { return writeSweepJSON(f, doc) }},
		{o.plot, func(f io.Writer) error { return writeSweepPlot(f, doc) }},
	}))
}
