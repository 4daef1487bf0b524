package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The verdict line under the table: which policy wins, and when two
// figures tie.

// verdict names the winner and says by how much it won. The winner: among
// the policies that started no ban (of any code, in any run), those whose
// goodput ties the best goodput (see tie: within their spreads, or
// tieShare) contend, and the one with the fewest attempts per accepted
// task wins. When others tie it on both, the line says "tied:" and names
// them all in table order, so that noise does not pick between twins. If
// every policy started a ban, the same rule runs over all of them and the
// line says so. "By how much" compares the winner with the best ban-free
// baseline (a policy written without slotguard), else with the best of
// the others.
func verdict(results []result) string {
	if len(results) == 0 {
		return ""
	}
	pool, banFree := safePool(results)
	w, tied := pickWinner(pool)

	var b strings.Builder
	head := "winner: " + w.Policy
	if len(tied) > 0 {
		head = fmt.Sprintf("tied: %s (%s); %s", strings.Join(append([]string{w.Policy}, tied...), ", "), tieNote(w.Runs), w.Policy)
	}
	fmt.Fprintf(&b, "%s, %.1f tasks accepted/min, %.0f%% slot utilisation, %.2f attempts/task",
		head, w.AcceptedPerMin, 100*w.Utilization, w.AttemptsPerAcc)
	if !banFree {
		b.WriteString(" (every policy started a ban: none of them is safe here)")
		return b.String()
	}
	b.WriteString(", no bans")
	if rival := rivalOf(pool, w.Policy); rival != nil {
		what := "the best of the others"
		if rival.Baseline {
			what = "the best ban-free policy without slotguard"
		}
		fmt.Fprintf(&b, "; vs %s, %s (%.1f/min, %.0f%%, %.2f attempts/task): %+.1f%% goodput, %+.0f%% attempts/task",
			what, rival.Policy, rival.AcceptedPerMin, 100*rival.Utilization, rival.AttemptsPerAcc,
			100*(w.AcceptedPerMin/rival.AcceptedPerMin-1), 100*(w.AttemptsPerAcc/rival.AttemptsPerAcc-1))
	}
	if banned := bannedPolicies(results); len(banned) > 0 {
		fmt.Fprintf(&b, "; banned: %s", strings.Join(banned, ", "))
	}
	return b.String()
}

// safePool returns the policies the winner is picked from: those that
// started no ban, banFree; or, when every policy started one, all of them.
func safePool(results []result) (pool []result, banFree bool) {
	pool = slices.DeleteFunc(slices.Clone(results), func(r result) bool { return r.banned() })
	if len(pool) == 0 {
		return slices.Clone(results), false
	}
	return pool, true
}

// pickWinner returns the winner of a non-empty pool: of the policies whose
// goodput ties the best, the first in table order of those whose attempts
// per task tie the fewest; tied are the others that tie it on both.
func pickWinner(pool []result) (w result, tied []string) {
	best := slices.MaxFunc(pool, func(a, b result) int { return cmpFloat(a.AcceptedPerMin, b.AcceptedPerMin) })
	contenders := slices.DeleteFunc(slices.Clone(pool), func(r result) bool {
		return !tie(r.AcceptedPerMin, best.AcceptedPerMin, r.spread("accepted_per_min")+best.spread("accepted_per_min"))
	})
	fewest := slices.MinFunc(contenders, func(a, b result) int { return cmpFloat(a.AttemptsPerAcc, b.AttemptsPerAcc) })
	for _, r := range contenders {
		switch {
		case !tie(r.AttemptsPerAcc, fewest.AttemptsPerAcc, r.spread("attempts_per_task")+fewest.spread("attempts_per_task")):
		case w.Policy == "":
			w = r
		default:
			tied = append(tied, r.Policy)
		}
	}
	return w, tied
}

// rivalOf returns what the winner is measured against: the pool's best
// goodput among the baselines if there is one, else among the others; nil
// when the winner is alone.
func rivalOf(pool []result, winner string) *result {
	var rival *result
	for i := range pool {
		r := &pool[i]
		switch {
		case r.Policy == winner:
		case rival == nil, r.Baseline && !rival.Baseline,
			r.Baseline == rival.Baseline && r.AcceptedPerMin > rival.AcceptedPerMin:
			rival = r
		}
	}
	return rival
}

// bannedPolicies names the policies that started a ban, in table order.
func bannedPolicies(results []result) []string {
	var banned []string
	for _, r := range results {
		if r.banned() {
			banned = append(banned, r.Policy)
		}
	}
	return banned
}

// tieShare is how close two goodputs (or attempts per task) must be to tie: above the
// run-to-run noise of the default workload (about 1% between two runs of the
// same seed).
const tieShare = 0.02

// tie tells whether a and b tie: they differ by no more than spread (the
// sum of their spreads over the runs) or tieShare, the noise that a single
// run, whose spread is 0, cannot show.
func tie(a, b, spread float64) bool { return math.Abs(a-b) <= max(tieShare*max(a, b), spread) }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
