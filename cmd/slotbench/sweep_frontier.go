package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// recommendMaxAttempts is the recommendation's bar on attempts per
// accepted task: past it a setting spends on NO_SLOT answers (the ban
// line's count) more than half again what it gets accepted. It is the bar
// of the doc's AIMD sweep.
const recommendMaxAttempts = 1.5

// recommendTie is how close two settings' main figure (utilisation, or the
// share of tasks in time under -arrivals) must be to tie: a point, about
// the run-to-run noise of the default workload.
const recommendTie = 0.01

// measures are the counts a setting is judged on, each the lower the
// better: the Pareto frontier's axes. Bans count as the most any run
// started: a setting banned in one run of three is not as good as one
// never banned, whatever its median (result.banned).
func measures(r result, open bool) []float64 {
	bans := max(float64(r.Bans), r.Range["bans"].Max)
	m := []float64{-r.Utilization, r.AttemptsPerAcc, r.P99, float64(r.Lost), bans}
	if open && r.ArrivalStats != nil {
		m = append(m, r.MissedShare)
	}
	return m
}

// dominates reports whether a is at least as good as b on every measure
// and better on one.
func dominates(a, b []float64) bool {
	better := false
	for i := range a {
		switch {
		case a[i] > b[i]:
			return false
		case a[i] < b[i]:
			better = true
		}
	}
	return better
}

// markFrontier marks the rows that no other row dominates.
func markFrontier(rows []sweepRow) {
	for i := range rows {
		open := rows[i].Result.ArrivalStats != nil
		mi := measures(rows[i].Result, open)
		rows[i].Frontier = true
		for j := range rows {
			if j != i && dominates(measures(rows[j].Result, open), mi) {
				rows[i].Frontier = false
				break
			}
		}
	}
}

// recommendation is the setting a sweep recommends, nil when none, and the
// rule that chose it, in words.
type recommendation struct {
	row  *sweepRow
	rule string
}

// recommend picks a setting by the rule it states: of the frontier's
// settings that started no ban and spend at most recommendMaxAttempts
// attempts per task, of those within recommendTie of the highest
// utilisation (open: of the lowest missed share), the one with the fewest
// attempts per task, then the lowest p99. If no ban-free setting is that frugal, the
// ban-free one with the fewest attempts per task; if every setting started
// a ban, none.
func recommend(rows []sweepRow, open bool) recommendation {
	what := "the highest slot utilisation"
	score := func(r result) float64 { return r.Utilization }
	if open {
		what = "the smallest missed share"
		score = func(r result) float64 { return 1 - r.MissedShare }
	}
	rule := fmt.Sprintf("of the frontier's settings with no ban and at most %v attempts/task, those within %.0f point of %s, "+
		"and of them the fewest attempts/task (then the lower p99); if none is that frugal, "+
		"the ban-free setting with the fewest attempts/task", recommendMaxAttempts, 100*recommendTie, what)
	var frugal []*sweepRow
	var frugalest *sweepRow
	for i := range rows {
		row := &rows[i]
		if !row.Frontier || row.Result.banned() {
			continue
		}
		if frugalest == nil || row.Result.AttemptsPerAcc < frugalest.Result.AttemptsPerAcc {
			frugalest = row
		}
		if row.Result.AttemptsPerAcc <= recommendMaxAttempts {
			frugal = append(frugal, row)
		}
	}
	switch {
	case len(frugal) > 0:
		return recommendation{pick(frugal, score), rule}
	case frugalest != nil:
		return recommendation{frugalest, rule + fmt.Sprintf(" (none spends at most %v)", recommendMaxAttempts)}
	}
	return recommendation{nil, rule + ": none, every setting started a ban"}
}

// pick returns, of the rows whose score is within recommendTie of the best
// score, the one with the fewest attempts per task, then the lowest p99,
// then the first.
func pick(rows []*sweepRow, score func(result) float64) *sweepRow {
	top := score(rows[0].Result)
	for _, row := range rows {
		top = max(top, score(row.Result))
	}
	var best *sweepRow
	for _, row := range rows {
		r := row.Result
		switch {
		case score(r) < top-recommendTie:
		case best == nil, r.AttemptsPerAcc < best.Result.AttemptsPerAcc,
			r.AttemptsPerAcc == best.Result.AttemptsPerAcc && r.P99 < best.Result.P99:
			best = row
		}
	}
	return best
}

// sweepReport is what a sweep found: the table's content and the -json
// document.
type sweepReport struct {
	Workload    workload   `json:"workload"`
	Policy      string     `json:"policy"`
	Parameter   string     `json:"parameter"`
	Settings    []sweepRow `json:"settings"`
	Rule        string     `json:"rule"`
	Recommended string     `json:"recommended"`       // the setting's label; "" when none
	Config      string     `json:"config"`            // its slotguard.Config literal, to paste
	Warning     string     `json:"warning,omitempty"` // timers woke late enough to move the figures (lateness.go)
}

func writeSweepJSON(out io.Writer, doc sweepReport) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// writeSweepTable prints the frontier table, the rule and the recommended
// Config.
func writeSweepTable(out io.Writer, doc sweepReport) error {
	head := describe(doc.Workload)
	open := doc.Workload.Arrivals > 0
	if open {
		head = describeArrivals(doc.Workload)
	}
	fmt.Fprintf(out, "%s\nsweep of %s: %s\n", head, doc.Policy, doc.Parameter)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("setting")
	for _, r := range doc.Settings {
		width = max(width, len(r.Setting))
	}
	missedHead := ""
	if open {
		missedHead = "missed share\t"
	}
	fmt.Fprintf(tw, "%-*s\tfrontier\taccepted/min\tslot util\tattempts/task\tp99\t%speak NO_SLOT/min\tlost\tbans\t\n", width, "setting", missedHead)
	for _, row := range doc.Settings {
		r := row.Result
		mark, missed := "", ""
		if row.Frontier {
			mark = "*"
		}
		if open && r.ArrivalStats != nil {
			missed = r.pm(fmt.Sprintf("%.1f%%", 100*r.MissedShare), "missed_share", 100, 1) + "\t"
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t\n", width, row.Setting, mark,
			r.pm(fmt.Sprintf("%.1f", r.AcceptedPerMin), "accepted_per_min", 1, 1),
			r.pm(fmt.Sprintf("%.1f%%", 100*r.Utilization), "utilization", 100, 1),
			r.pm(fmt.Sprintf("%.2f", r.AttemptsPerAcc), "attempts_per_task", 1, 2),
			r.pm(secs(r.P99), "p99_s", 1, 1), missed,
			r.pm(strconv.Itoa(r.PeakNoSlot), "peak_no_slot_per_min", 1, 1), r.pm(strconv.Itoa(r.Lost), "lost", 1, 1), bansCell(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "(*: on the Pareto frontier: no other setting is as good on every count (utilisation; attempts/task, p99, lost, bans, missed share: fewer) and better on one)")
	if n := doc.Settings[0].Result.Runs; n > 1 {
		fmt.Fprintf(out, "(each setting: the median of %d runs; ±: half their range; the frontier and the rule read the medians; bans: any run's)\n", n)
	}
	results := make([]result, len(doc.Settings))
	for i, row := range doc.Settings {
		results[i] = row.Result
	}
	fmt.Fprintln(out, latenessLine(doc.Workload, results))
	fmt.Fprintf(out, "rule: %s\n", doc.Rule)
	if doc.Recommended == "" {
		_, err := fmt.Fprintln(out, "recommended: none")
		return err
	}
	_, err := fmt.Fprintf(out, "recommended: %s\n\t%s\n", doc.Recommended, doc.Config)
	return err
}
