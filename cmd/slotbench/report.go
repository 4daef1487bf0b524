package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// banLine is the provider's line: the 120th NO_SLOT answer within a rolling
// minute blocks the key's submits for 10 minutes (ERROR: 1001).
const banLine = 120

// result is one policy's measurements. Times are provider time.
type result struct {
	Policy   string `json:"policy"`
	About    string `json:"about"`
	Baseline bool   `json:"baseline"` // written without slotguard

	AcceptedPerMin float64        `json:"accepted_per_min"` // goodput: tasks accepted (billed) per minute
	Utilization    float64        `json:"utilization"`      // slot time that held a task / slot time offered
	Accepted       int            `json:"accepted"`         // tasks accepted, as the provider billed them
	Started        int            `json:"started"`          // tasks whose fate was decided within the run
	Lost           int            `json:"lost"`             // tasks given up
	CutOff         int            `json:"cut_off"`          // tasks still being submitted when the run ended
	ShareAccepted  float64        `json:"share_accepted"`   // accepted / started, from the workers' side
	P50            float64        `json:"p50_s"`            // time to acceptance, seconds
	P95            float64        `json:"p95_s"`
	P99            float64        `json:"p99_s"`
	Attempts       int            `json:"attempts"`             // submit attempts on the wire
	AttemptsPerAcc float64        `json:"attempts_per_task"`    // attempts / accepted
	NoSlot         int            `json:"no_slot"`              // NO_SLOT answers
	PeakNoSlot     int            `json:"peak_no_slot_per_min"` // most NO_SLOT answers in any rolling minute
	Bans           int            `json:"bans"`                 // blocks started, every code
	BansBy         map[string]int `json:"bans_by"`
	LostBy         map[string]int `json:"lost_by"`
	Polls          int            `json:"polls"`
	PollErrors     int            `json:"poll_errors"`
	NoSlotPerMin   []int          `json:"no_slot_per_minute"` // the provider's count per provider minute
	*ArrivalStats                 // under -arrivals: missed_share, accept_p50_s, ...; nil (left out) otherwise
	*OutageStats                  // under -type-outage: outage_kept, ...; nil (left out) otherwise

	// Runs is how many runs (seeds) the row is the median of; Range has
	// each number's median, min, max and spread over them (runs.go).
	Runs          int                     `json:"runs"`
	Range         map[string]span         `json:"range,omitempty"`
	ByMethod      map[string]methodResult `json:"by_method"`      // by the tasks' in.php method (-mix)
	TimerLateness latenessStats           `json:"timer_lateness"` // how late the run's sleeps woke (lateness.go)

	latency []time.Duration // per accepted task, sorted: for the plot
	rolling []rollPoint     // NO_SLOT answers in the minute before each point: for the plot
}

type rollPoint struct {
	at time.Duration
	n  int
}

// result computes p's result from the run's records and the provider's
// stats st, read at the deadline.
func (e *env) result(p policy, st captchaaitest.Stats) result {
	tries, noSlot, wire := e.wire.snapshot()
	r := &e.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.latency)
	slices.Sort(lat)
	res := result{
		Policy:         p.name,
		About:          p.about,
		Baseline:       p.baseline,
		AcceptedPerMin: float64(st.Accepted) / e.w.Duration.Minutes(),
		Utilization:    st.Utilization(),
		Accepted:       st.Accepted,
		Started:        len(lat) + r.lostN,
		Lost:           r.lostN,
		CutOff:         r.cutOffN,
		P50:            quantile(lat, 0.50).Seconds(),
		P95:            quantile(lat, 0.95).Seconds(),
		P99:            quantile(lat, 0.99).Seconds(),
		Attempts:       len(tries),
		NoSlot:         len(noSlot),
		BansBy:         st.Bans,
		LostBy:         maps.Clone(r.lostBy),
		Polls:          st.Polls,
		PollErrors:     r.pollErrors,
		NoSlotPerMin:   st.NoSlotPerMinute,
		ByMethod:       e.byMethod(r, wire),
		TimerLateness:  e.clock.late.stats(),
		latency:        lat,
	}
	if res.BansBy == nil {
		res.BansBy = map[string]int{}
	}
	if res.LostBy == nil {
		res.LostBy = map[string]int{}
	}
	for _, n := range st.Bans {
		res.Bans += n
	}
	if res.Started > 0 {
		res.ShareAccepted = float64(len(lat)) / float64(res.Started)
	}
	if st.Accepted > 0 {
		res.AttemptsPerAcc = float64(len(tries)) / float64(st.Accepted)
	}
	res.PeakNoSlot = peakPerMinute(noSlot)
	res.ArrivalStats = e.arrivalResult(st, lat)
	var acc, during, arrived int
	for _, mw := range wire {
		acc, during = acc+mw.accepted, during+mw.acceptedOut
	}
	for _, mr := range r.byMethod {
		arrived += mr.arrivedOut
	}
	res.OutageStats = e.w.outageStats(acc, during, arrived)
	res.rolling = rollingSeries(noSlot, e.w.Duration, max(e.w.Duration/200, time.Second))
	return res
}

// quantile returns the q-quantile of sorted by the nearest rank; 0 if empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// peakPerMinute returns the most events (sorted times) within any rolling
// minute: the count the provider's ERROR: 1001 rule watches.
func peakPerMinute(at []time.Duration) int {
	peak, lo := 0, 0
	for hi := range at {
		for at[hi]-at[lo] >= time.Minute {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// rollingSeries samples the events (sorted times) in the minute before each
// step up to end.
func rollingSeries(at []time.Duration, end, step time.Duration) []rollPoint {
	var pts []rollPoint
	lo, hi := 0, 0
	for t := time.Duration(0); t <= end; t += step {
		for hi < len(at) && at[hi] <= t {
			hi++
		}
		for lo < hi && t-at[lo] >= time.Minute {
			lo++
		}
		pts = append(pts, rollPoint{t, hi - lo})
	}
	return pts
}

// describe is the table's heading line.
func describe(w workload) string {
	bans := "bans on"
	if !w.Bans {
		bans = "bans off"
	}
	var more strings.Builder
	if w.Hour >= 0 {
		fmt.Fprintf(&more, ", shared pool from %02d:00 UTC", w.Hour)
	}
	if w.Collapse >= 0 {
		from, to := w.collapse()
		fmt.Fprintf(&more, ", capacity collapses to %d slots from %v to %v", w.Collapse, from, to)
	}
	if w.Fleet > 1 {
		fmt.Fprintf(&more, ", a fleet of %d processes on one key", w.Fleet)
	}
	switch w.Bypass {
	case bypassTaskDone:
		more.WriteString(", thread permits' polls bypass the Transport (TaskDone)")
	case bypassCeiling:
		more.WriteString(", thread permits' polls bypass the Transport (released at the ceiling)")
	}
	more.WriteString(describeMix(w))
	return fmt.Sprintf("slotbench: %d slots, %d workers, solve %v-%v, %v of provider time at x%g, seed %d, %s%s",
		w.Slots, w.Workers, w.SolveMin, w.SolveMax, w.Duration, w.Speed, w.Seed, bans, more.String())
}

// writeTable prints the human table and the verdict.
func writeTable(out io.Writer, w workload, results []result) error {
	if w.Arrivals > 0 {
		return writeArrivalTable(out, w, results)
	}
	fmt.Fprintln(out, describe(w))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := max(len("policy"), methodsWidth(w))
	for _, r := range results {
		width = max(width, len(r.Policy))
	}
	fmt.Fprintf(tw, "%-*s\taccepted/min\tslot util\taccepted/started\tp50\tp95\tp99\tattempts/task\tpeak NO_SLOT/min\tbans\tlost\t%s\n", width, "policy", outageHead(w))
	for _, r := range results {
		// tabwriter aligns every column right; the names are padded to read left.
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", width, r.Policy,
			r.pm(fmt.Sprintf("%.1f", r.AcceptedPerMin), "accepted_per_min", 1, 1),
			r.pm(fmt.Sprintf("%.1f%%", 100*r.Utilization), "utilization", 100, 1),
			r.pm(fmt.Sprintf("%.1f%%", 100*r.ShareAccepted), "share_accepted", 100, 1),
			r.pm(secs(r.P50), "p50_s", 1, 1), r.pm(secs(r.P95), "p95_s", 1, 1), r.pm(secs(r.P99), "p99_s", 1, 1),
			r.pm(fmt.Sprintf("%.2f", r.AttemptsPerAcc), "attempts_per_task", 1, 2),
			r.pm(strconv.Itoa(r.PeakNoSlot), "peak_no_slot_per_min", 1, 1), bansCell(r), r.pm(strconv.Itoa(r.Lost), "lost", 1, 1),
			r.keptCell())
		methodRows(tw, width, w, r, methodCells)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "(time to acceptance: from the worker's call to the accepted answer, every policy's queue included (pacer, thread permits, batch lane); provider time; ban line %d NO_SLOT/min; bans: blocks started, all codes)\n", banLine)
	if note := runsNote(w, results); note != "" {
		fmt.Fprintln(out, note)
	}
	if note := outageNote(w); note != "" {
		fmt.Fprintln(out, note)
	}
	fmt.Fprintln(out, latenessLine(w, results))
	_, err := fmt.Fprintln(out, verdict(results))
	return err
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + "s" }

func bansCell(r result) string {
	if !r.banned() {
		return "0"
	}
	var codes []string
	for _, k := range slices.Sorted(maps.Keys(r.BansBy)) {
		codes = append(codes, strings.TrimPrefix(k, "ERROR: "))
	}
	return fmt.Sprintf("%s (%s)", r.pm(strconv.Itoa(r.Bans), "bans", 1, 1), strings.Join(codes, ","))
}
