package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// describeArrivals is the table's heading line under -arrivals: the
// workload, with the arrivals in place of the workers.
func describeArrivals(w workload) string {
	demand := fmt.Sprintf("tasks arriving at %g/s (Poisson)", w.Arrivals)
	if w.Deadline > 0 {
		demand += fmt.Sprintf(", deadline %v", w.Deadline)
	} else {
		demand += ", no deadline"
	}
	return strings.Replace(describe(w), fmt.Sprintf("%d workers", w.Workers), demand, 1)
}

// deadlineJSON is -deadline for the JSON workload: "" (left out) when not set.
func deadlineJSON(w workload) string {
	if w.Deadline <= 0 {
		return ""
	}
	return w.Deadline.String()
}

// writeArrivalTable prints the table under -arrivals: what the closed-loop
// table says of the account, with the arrivals' figures in place of the
// share accepted and the time to acceptance from the worker's call.
func writeArrivalTable(out io.Writer, w workload, results []result) error {
	fmt.Fprintln(out, describeArrivals(w))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := max(len("policy"), methodsWidth(w))
	for _, r := range results {
		width = max(width, len(r.Policy))
	}
	fmt.Fprintf(tw, "%-*s\taccepted/min\tslot util\tarrived\tin time\tmissed\tmissed share\taccept p50\taccept p99\tbilled, missed\tattempts/task\tpeak NO_SLOT/min\tbans\t%s\n", width, "policy", outageHead(w))
	for _, r := range results {
		a := r.ArrivalStats
		if a == nil {
			a = &ArrivalStats{}
		}
		n := func(v int, measure string) string { return r.pm(strconv.Itoa(v), measure, 1, 1) }
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", width, r.Policy,
			r.pm(fmt.Sprintf("%.1f", r.AcceptedPerMin), "accepted_per_min", 1, 1),
			r.pm(fmt.Sprintf("%.1f%%", 100*r.Utilization), "utilization", 100, 1),
			n(a.Arrived, "arrived"), n(a.InTime, "accepted_in_time"), n(a.Missed, "missed"),
			r.pm(fmt.Sprintf("%.1f%%", 100*a.MissedShare), "missed_share", 100, 1),
			r.pm(secs(a.AcceptP50), "accept_p50_s", 1, 1), r.pm(secs(a.AcceptP99), "accept_p99_s", 1, 1),
			n(a.BilledMissed, "billed_missed"), r.pm(fmt.Sprintf("%.2f", r.AttemptsPerAcc), "attempts_per_task", 1, 2),
			n(r.PeakNoSlot, "peak_no_slot_per_min"), bansCell(r), r.keptCell())
		methodRows(tw, width, w, r, arrivalMethodCells)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "(missed: not accepted within the deadline: given up, abandoned at the deadline, accepted late, or dropped (%d tasks already waiting); "+
		"missed share: of the tasks whose fate the run saw (tasks still waiting at its end count in neither); accept p50/p99: from arrival, tasks accepted in time; "+
		"billed, missed: tasks the provider billed that were not accepted in time; provider time; ban line %d NO_SLOT/min)\n", maxPending, banLine)
	if note := runsNote(w, results); note != "" {
		fmt.Fprintln(out, note)
	}
	if note := outageNote(w); note != "" {
		fmt.Fprintln(out, note)
	}
	fmt.Fprintln(out, latenessLine(w, results))
	if line := fewestMissed(results); line != "" {
		fmt.Fprintln(out, line)
	}
	_, err := fmt.Fprintln(out, verdict(results))
	return err
}

// arrivalMethodCells are a method's cells in the -arrivals table: the
// figures a method has (accepted/min, attempts/task, outage kept), the
// others empty.
func arrivalMethodCells(mr methodResult) string {
	return fmt.Sprintf("%.1f\t\t\t\t\t\t\t\t\t%.2f\t\t\t%s", mr.AcceptedPerMin, mr.AttemptsPerAcc, mr.keptCell())
}

// fewestMissed names the ban-free policy that missed the smallest share of
// its tasks (of all of them if every one started a ban), with the others
// within a point of it; "" without results.
func fewestMissed(results []result) string {
	pool, banFree := safePool(results)
	pool = slices.DeleteFunc(pool, func(r result) bool { return r.ArrivalStats == nil })
	if len(pool) == 0 {
		return ""
	}
	best := slices.MinFunc(pool, func(a, b result) int { return cmpFloat(a.MissedShare, b.MissedShare) })
	var tied []string
	for _, r := range pool {
		if r.Policy != best.Policy && r.MissedShare-best.MissedShare <= 0.01 {
			tied = append(tied, r.Policy)
		}
	}
	line := fmt.Sprintf("fewest missed: %s, %.1f%% of its tasks missed, accept p99 %s", best.Policy, 100*best.MissedShare, secs(best.AcceptP99))
	if len(tied) > 0 {
		line += fmt.Sprintf(" (within a point: %s)", strings.Join(tied, ", "))
	}
	if !banFree {
		line += " (every policy started a ban)"
	}
	return line
}
